"""The JSON endpoints with the real model: the record is ``predict``'s, the overlay is
``visualize.draw_overlay``'s, similar items share the query's category, bad input gets a
message naming the file, and 8 concurrent uploads all succeed."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image


def _call(url: str, data: bytes | None = None, method: str | None = None):
    """(status, parsed JSON or raw bytes) of one request."""
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, body, kind = response.status, response.read(), response.headers["content-type"]
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers["content-type"]
    return status, json.loads(body) if "json" in (kind or "") else body


def _detect(live, path, name=None):
    return _call(f"{live.url}api/detect?filename={name or path.name}", path.read_bytes(), "POST")


def test_record_is_the_predict_record_of_the_same_image(live, engine, app_data):
    from fashion_mrcnn.predict import predict_records

    scene = app_data["scenes"][0]
    status, result = _detect(live, scene["path"])
    assert status == 200, result
    (expected,) = predict_records(
        engine.model, [scene["path"]], engine.class_names, engine.category_ids
    )
    status, record = _call(f"{live.url}api/results/{result['id']}/record.json")
    assert status == 200
    assert record["image"] == scene["path"].name and expected["image"] == str(scene["path"])
    assert (record["width"], record["height"]) == (expected["width"], expected["height"])
    got, want = record["instances"], expected["instances"]
    assert [set(i) for i in got] == [set(i) for i in want]
    assert [(i["class_id"], i["class_name"], i["box"]) for i in got] == [
        (i["class_id"], i["class_name"], i["box"]) for i in want
    ]
    np.testing.assert_allclose([i["score"] for i in got], [i["score"] for i in want], atol=1e-4)
    assert [i["mask_rle"] for i in got] == [i["mask_rle"] for i in want]
    # the full result keeps lower-scoring detections too, for the page's slider
    assert len(result["record"]["instances"]) >= len(got)
    assert len(result["colors"]) == len(result["record"]["instances"])


def test_overlay_png_is_draw_overlay_of_the_shown_instances(live, engine, app_data):
    from fashion_mrcnn.data.formats.rle import decode
    from fashion_mrcnn.viz.overlay import draw_overlay

    scene = app_data["scenes"][1]
    status, result = _detect(live, scene["path"])
    assert status == 200, result
    kept = live.webapp.results[result["id"]]
    status, png = _call(f"{live.url}api/results/{result['id']}/overlay.png?min_score=0.5")
    assert status == 200
    picture = np.asarray(Image.open(io.BytesIO(png)))
    image = np.asarray(Image.open(io.BytesIO(kept.jpeg)).convert("RGB"))
    shown = np.flatnonzero(kept.scores >= 0.5)
    assert len(shown) >= len(scene["names"])
    h, w = image.shape[:2]
    instances = result["record"]["instances"]
    masks = np.stack([decode(instances[i]["mask_rle"], h, w) > 0 for i in shown], axis=-1)
    expected = draw_overlay(
        image, kept.rois[shown], masks, kept.class_ids[shown], engine.class_names,
        kept.scores[shown],
    )  # fmt: skip
    np.testing.assert_array_equal(picture, expected)
    status, bare = _call(
        f"{live.url}api/results/{result['id']}/overlay.png?masks=0&boxes=0&scores=0"
    )
    assert status == 200 and bare != png


def test_similar_items_share_the_category_and_the_scene_itself_comes_first(live, app_data):
    from fashion_mrcnn.ops.boxes import box_iou_np

    scene = app_data["scenes"][2]
    status, result = _detect(live, scene["path"])
    assert status == 200, result
    instances = result["record"]["instances"]
    checked = 0
    for k, inst in enumerate(instances):
        if inst["score"] < 0.5:
            continue
        status, answer = _call(f"{live.url}api/results/{result['id']}/similar/{k}?top=5")
        assert status == 200, answer
        items = answer["items"]
        assert items and {it["category_id"] for it in items} == {inst["class_id"]}
        sims = [it["similarity"] for it in items]
        assert sims == sorted(sims, reverse=True)
        top = items[0]
        assert top["image"] == scene["path"].name, (inst, items)
        # The garment's own catalogue crop (indexed from its labelled box, so about 0.98 similar
        # to the detected box's embedding) ranks first, up to near ties: a scene can hold two
        # near-identical items of one category (a pair of shoes) that may swap places.
        a1, b1, a2, b2 = inst["box"]
        own = [
            it
            for it in items
            if it["image"] == scene["path"].name
            and box_iou_np(
                np.array([[it["box"][1], it["box"][0], it["box"][3], it["box"][2]]], float),
                np.array([[b1, a1, b2, a2]], float),
            )[0, 0]
            >= 0.5
        ]
        assert own and own[0]["similarity"] >= top["similarity"] - 0.05, (inst, items)
        status, crop = _call(f"{live.url}{own[0]['crop_url']}")
        assert status == 200 and Image.open(io.BytesIO(crop)).format == "JPEG"
        checked += 1
    assert checked >= len(scene["names"])


def test_a_photo_without_garments_gets_whole_photo_matches(live, app_data, monkeypatch):
    from tests.app.app_helpers import find_nothing

    find_nothing(monkeypatch, live.webapp.engine)
    status, result = _detect(live, app_data["scenes"][0]["path"])
    assert status == 200 and result["main"] == -1 and not result["record"]["instances"], result
    status, answer = _call(f"{live.url}api/results/{result['id']}/similar/photo?top=50")
    assert status == 200, answer
    items = answer["items"]
    # every category of the catalogue, best first, each the RoI + colour similarity
    assert len({it["category_id"] for it in items}) >= 3, items
    sims = [it["similarity"] for it in items]
    assert sims == sorted(sims, reverse=True) and answer["message"] is None
    category = items[-1]["category_id"]
    status, one = _call(f"{live.url}api/results/{result['id']}/similar/photo?category={category}")
    assert status == 200 and one["items"]
    assert {it["category_id"] for it in one["items"]} == {category}
    status, missing = _call(f"{live.url}api/results/nosuchresult/similar/photo")
    assert status == 404, missing


@pytest.mark.parametrize(
    "kind, status, expected",
    [
        ("text", 400, "notes.txt: this file is not a photo we can read: use JPEG, PNG or WebP"),
        ("empty", 400, "empty.jpg: empty upload"),
        ("truncated", 400, "truncated.png: this photo is damaged or incomplete"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_file(
    live, bad_files, kind, status, expected
):
    got, answer = _detect(live, bad_files[kind])
    assert got == status and answer["error"].startswith(expected), answer  # names the upload
    assert _call(f"{live.url}api/health")[1]["ok"] is True


def test_a_6000px_photo_is_downscaled_and_said_so(live, bad_files):
    status, result = _detect(live, bad_files["huge"])
    assert status == 200, result
    assert (result["record"]["width"], result["record"]["height"]) == (1280, 1280)
    assert "6000x6000" in result["notice"]


def test_eight_concurrent_uploads_all_succeed(live, app_data):
    scenes = app_data["scenes"]
    jobs = [scenes[i % len(scenes)] for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda s: _detect(live, s["path"]), jobs))
    assert [status for status, _ in answers] == [200] * 8, answers
    assert len({result["id"] for _, result in answers}) == 8
    for scene, (_, result) in zip(jobs, answers):
        names = {i["class_name"] for i in result["record"]["instances"] if i["score"] >= 0.5}
        assert set(scene["names"]) <= names
    assert _call(f"{live.url}api/health")[1]["waiting"] == 0


def test_info_describes_model_samples_and_catalogue(live, engine):
    status, info = _call(f"{live.url}api/info")
    assert status == 200
    assert info["model"]["classes"] == engine.class_names[1:]
    assert set(info["colors"]) == set(engine.class_names[1:])
    assert len(info["samples"]) == 3 and all(s["tags"] for s in info["samples"])
    assert info["catalog"]["items"] == 8 and info["catalog"]["backends"] == ["numpy"]
    status, png = _call(f"{live.url}{info['samples'][0]['url']}")
    assert status == 200 and Image.open(io.BytesIO(png)).size == (128, 128)
    status, answer = _call(f"{live.url}api/results/nope/record.json")
    assert status == 404 and "no longer kept" in answer["error"]


def test_more_like_this_filters_and_product_fields(live, app_data):
    scene = app_data["scenes"][0]
    status, result = _detect(live, scene["path"])
    assert status == 200, result
    k = result["main"]
    assert k >= 0 and result["record"]["instances"][k]["score"] >= 0.5
    base = f"{live.url}api/results/{result['id']}/similar/{k}"
    status, answer = _call(f"{base}?top=8&category=all")
    assert status == 200, answer
    assert len(answer["items"]) == 8  # every category: the whole 8-item catalogue
    assert len({it["category_id"] for it in answer["items"]}) > 1
    top = answer["items"][0]
    # product fields of the scene's row in products.csv, a clean label elsewhere
    for item in answer["items"]:
        if item["image"] == scene["path"].name:
            assert (item["label"], item["price"], item["url"]) == (
                "Everyday look",
                "49.90",
                "https://shop.example/p/1",
            )
        assert item["label"] and item["colour"]
    colour = top["colour"]
    status, coloured = _call(f"{base}?top=8&category=all&colour={colour}")
    assert status == 200 and {it["colour"] for it in coloured["items"]} == {colour}
    status, more = _call(f"{live.url}api/catalog/items/{top['id']}/similar?top=8")
    assert status == 200, more
    assert top["id"] not in [it["id"] for it in more["items"]]
    assert {it["category_id"] for it in more["items"]} <= {top["category_id"]}
    assert more["query"]["label"] == top["label"]
    for bad, message in (("colour=plaid", "colour='plaid' is not one of"),
                         ("category=shoes", "category='shoes' is not a category id")):  # fmt: skip
        status, refused = _call(f"{base}?{bad}")
        assert status == 400 and message in refused["error"], refused
    status, missing = _call(f"{live.url}api/catalog/items/999/similar")
    assert status == 404 and "no catalogue item 999" in missing["error"]


def test_info_lists_the_catalogue_categories_and_colours(live, app_data):
    from fashion_mrcnn.app.embedding import COLOUR_NAMES

    status, info = _call(f"{live.url}api/info")
    catalog = info["catalog"]
    assert sum(c["items"] for c in catalog["categories"]) == catalog["items"] == 8
    assert catalog["colours"] and set(catalog["colours"]) <= set(COLOUR_NAMES)
    scenes = app_data["scenes"]
    assert catalog["products"] == len(scenes[0]["names"]) + len(scenes[1]["names"])
    assert info["status"]["model"]["state"] == "ready"
