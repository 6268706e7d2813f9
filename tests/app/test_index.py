"""Shop-the-look: the descriptors, the per-category vector index (numpy and faiss agree), and
``fashion-mrcnn index`` over an annotated dataset, a plain photo folder and a broken photo."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fashion_mrcnn.app import embedding
from fashion_mrcnn.app.vector_index import VectorIndex


def _garment(colour, size=32):
    image = np.full((size, size, 3), 255, np.uint8)
    image[8:24, 8:24] = colour
    masks = np.zeros((size, size, 1), bool)
    masks[8:24, 8:24, 0] = True
    return image, masks, np.array([[8, 8, 24, 24]])


def test_colour_descriptor_ranks_the_same_colour_first():
    red, blue, dark_red = ((200, 30, 30),), ((30, 40, 200),), ((150, 20, 25),)
    descriptors = {
        name: embedding.colour_descriptors(*_garment(c[0]))[0]
        for name, c in {"red": red, "blue": blue, "dark_red": dark_red}.items()
    }
    for d in descriptors.values():
        assert abs(np.linalg.norm(d) - 1) < 1e-5
    assert descriptors["red"] @ descriptors["dark_red"] > descriptors["red"] @ descriptors["blue"]
    # only the mask's pixels count: the white background around it in the box is left out
    image, masks, _ = _garment((200, 30, 30))
    box = np.array([[0, 0, 32, 32]])
    masked = embedding.colour_descriptors(image, masks, box)[0]
    whole = embedding.colour_descriptors(image, np.ones_like(masks), box)[0]
    assert descriptors["red"] @ masked > 0.999 and descriptors["red"] @ whole < 0.9


def test_mask_weighted_pooling_follows_the_mask():
    masks = np.zeros((20, 20, 1), bool)
    masks[0:10, 0:20, 0] = True  # the top half of the box
    weights = embedding.mask_weights(masks, np.array([[0, 0, 20, 20]]), grid=4)
    assert weights.shape == (1, 4, 4) and abs(weights.sum() - 1) < 1e-6
    assert weights[0, 2:].sum() == 0
    pooled = np.zeros((1, 4, 4, 2), np.float32)
    pooled[0, :2, :, 0] = 1.0  # channel 0 lives in the top half, channel 1 in the bottom
    pooled[0, 2:, :, 1] = 1.0
    np.testing.assert_allclose(embedding.pool_roi_features(pooled, weights), [[1.0, 0.0]])


def test_combined_vectors_blend_the_three_similarities():
    rng = np.random.default_rng(0)
    parts = {
        "roi": embedding._unit(rng.normal(size=(2, 16))),
        "shape": embedding._unit(rng.random((2, embedding.SHAPE_DIM))),
        "colour": embedding._unit(rng.random((2, 72))),
    }
    weights = {"roi": 0.6, "shape": 0.1, "colour": 0.3}
    v = embedding.combine(parts, weights)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    expected = sum(w * parts[k][0] @ parts[k][1] for k, w in weights.items())
    assert abs(v[0] @ v[1] - expected) < 1e-6
    with pytest.raises(ValueError, match="sum to 1"):
        embedding.combine(parts, {"roi": 0.5, "shape": 0.5, "colour": 0.5})


def test_centring_spreads_the_cosines_of_non_negative_features():
    rng = np.random.default_rng(1)
    features = embedding._unit(1.0 + 0.1 * rng.random((50, 32)))  # all alike, as ReLU outputs
    raw = features @ features.T
    centred = embedding.centre(features, features.mean(axis=0))
    spread = centred @ centred.T
    off = ~np.eye(50, dtype=bool)
    assert raw[off].min() > 0.95  # every pair looks the same before centring
    assert spread[off].min() < -0.3 and spread[off].max() > 0.3


def test_shape_descriptor_tells_long_from_square_garments():
    masks = np.zeros((100, 100, 3), bool)
    masks[0:90, 40:60, 0] = True  # a trouser leg
    masks[0:88, 10:30, 1] = True  # another
    masks[20:60, 20:60, 2] = True  # a bag
    boxes = np.array([[0, 40, 90, 60], [0, 10, 88, 30], [20, 20, 60, 60]])
    shape = embedding.shape_descriptors(masks, boxes)
    centred = embedding.centre(shape, shape.mean(axis=0))
    assert centred[0] @ centred[1] > centred[0] @ centred[2]
    np.testing.assert_allclose(np.linalg.norm(shape, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "rgb, name",
    [((15, 15, 15), "black"), ((128, 128, 128), "grey"), ((245, 245, 245), "white"),
     ((200, 30, 30), "red"), ((30, 60, 200), "blue"), ((40, 160, 60), "green"),
     ((110, 60, 20), "brown"), ((225, 200, 160), "beige"), ((230, 120, 190), "pink")],
)  # fmt: skip
def test_colour_names_of_plain_garments(rgb, name):
    image, masks, boxes = _garment(rgb)
    assert embedding.colour_names(image, masks, boxes) == [name]


def _clustered(n, dim, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, dim))
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, dim))
    return embedding._unit(x)


def test_search_stays_inside_the_category_and_ranks_by_inner_product():
    vectors = _clustered(300, 24, seed=1)
    categories = [1 if i % 3 else 6 for i in range(300)]
    index = VectorIndex(vectors, categories)
    assert index.backends() == {1: "numpy", 6: "numpy"} and index.counts() == {1: 200, 6: 100}
    query = vectors[7]
    ids, scores = index.search(query, 6, k=5)
    assert all(categories[i] == 6 for i in ids)
    in_class = [i for i in range(300) if categories[i] == 6]
    best = sorted(in_class, key=lambda i: -(vectors[i] @ query))[:5]
    assert list(ids) == best
    np.testing.assert_allclose(scores, vectors[best] @ query, rtol=1e-5)
    assert len(index.search(query, 99, k=5)[0]) == 0  # a category the catalogue lacks


def test_faiss_hnsw_finds_what_exact_search_finds(tmp_path):
    pytest.importorskip("faiss", reason="faiss-cpu is part of the app extra")
    vectors = _clustered(400, 24, seed=2)
    categories = [i % 2 for i in range(400)]
    exact = VectorIndex(vectors, categories)
    approx = VectorIndex(vectors, categories, numpy_max=0)
    assert set(approx.backends().values()) == {"faiss-hnsw"}
    approx.save(tmp_path)
    reloaded = VectorIndex(vectors, categories, numpy_max=0, faiss_dir=tmp_path)
    assert len(list(tmp_path.glob("part*.index"))) == 2
    for q in range(0, 400, 40):
        want = exact.search(vectors[q], q % 2, k=5)[0]
        assert list(approx.search(vectors[q], q % 2, k=5)[0]) == list(want)
        assert list(reloaded.search(vectors[q], q % 2, k=5)[0]) == list(want)


def test_index_cli_embeds_every_labelled_garment(checkpoint, app_data, tmp_path, capsys):
    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.cli import main

    out = tmp_path / "index"
    assert (
        main(["index", str(app_data["dir"]), "--weights", str(checkpoint), "--out", str(out)]) == 0
    )
    assert "8 garments from 3 images" in capsys.readouterr().out
    catalog = Catalog(out)
    labelled = sorted(n for s in app_data["scenes"] for n in s["names"])
    assert sorted(it["class_name"] for it in catalog.items) == labelled
    assert catalog.manifest["mode"] == "annotations"
    assert all((out / it["crop"]).is_file() for it in catalog.items)
    assert not (out / "skipped.csv").exists()


def test_index_of_a_photo_folder_uses_detections_and_lists_unreadable_photos(
    engine, app_data, bad_files, tmp_path
):
    import shutil

    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.app.indexing import build_index

    photos = tmp_path / "photos"
    photos.mkdir()
    for scene in app_data["scenes"]:
        shutil.copy(scene["path"], photos / scene["path"].name)
    shutil.copy(bad_files["truncated"], photos / "zz_truncated.png")
    out, skipped = build_index(photos, engine, tmp_path / "index", progress=False)
    assert len(skipped) == 1 and "zz_truncated.png" in (out / "skipped.csv").read_text()
    catalog = Catalog(out, engine.weights_sha256)
    assert catalog.manifest["mode"] == "detections"
    for scene in app_data["scenes"]:
        found = [it["class_name"] for it in catalog.items if it["image"] == scene["path"].name]
        assert set(scene["names"]) <= set(found)
        assert all(it["score"] >= 0.5 for it in catalog.items)


def test_index_cli_exit_status_reports_skipped_photos(
    checkpoint, engine, app_data, bad_files, tmp_path, capsys
):
    import shutil

    from fashion_mrcnn.app.indexing import build_index
    from fashion_mrcnn.cli import main
    from fashion_mrcnn.errors import FashionDataError

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.png").write_bytes(bad_files["truncated"].read_bytes())
    with pytest.raises(
        FashionDataError, match=r"no garment to index in 0 image\(s\) \(1 unreadable"
    ):
        build_index(photos, engine, tmp_path / "none", progress=False)
    shutil.copy(app_data["scenes"][0]["path"], photos / "good.png")
    args = ["index", str(photos), "--weights", str(checkpoint), "--out", str(tmp_path / "some")]
    assert main(args) == 1  # indexed, but a photo was skipped
    err = capsys.readouterr().err
    assert "1 unreadable image(s) skipped" in err and "skipped.csv" in err


def test_an_index_of_other_weights_is_refused(catalog_dir, engine):
    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.errors import ConfigError, FashionDataError

    with pytest.raises(ConfigError, match="built with other weights"):
        Catalog(catalog_dir, "0" * 64)
    assert len(Catalog(catalog_dir, engine.weights_sha256)) == 8
    manifest = json.loads((catalog_dir / "catalog.json").read_text())
    assert manifest["weights_sha256"] == engine.weights_sha256
    with pytest.raises(FashionDataError, match="not a finished catalogue index"):
        Catalog(catalog_dir.parent / "missing")


def test_default_catalogue_is_ccp_fashion_when_present_else_synthetic(
    engine, tmp_path, monkeypatch
):
    from fashion_mrcnn.app import catalog
    from fashion_mrcnn.app import indexing as cat

    shared = tmp_path / "shared" / "datasets" / "ccp-fashion"
    shared.mkdir(parents=True)
    (shared / "train.csv").write_text("ImageId,EncodedPixels,Height,Width,ClassId\n")
    assert catalog.default_catalog_source(search_from=tmp_path / "work") == shared.resolve()

    monkeypatch.setattr(cat, "default_catalog_source", lambda search_from=None: None)
    monkeypatch.setattr(cat, "SYNTHETIC_CATALOG_IMAGES", 3)
    built = cat.default_catalog(engine, tmp_path / "cache", progress=False)
    assert built.manifest["mode"] == "annotations" and built.manifest["images"] == 3
    assert built.dir == tmp_path / "cache" / "index-synthetic-scenes"

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the default catalogue was built again with the same weights")

    monkeypatch.setattr(cat, "build_index", no_rebuild)
    again = cat.default_catalog(engine, tmp_path / "cache", progress=False)
    assert len(again) == len(built)


def test_index_with_products_gives_cards_their_title_price_and_link(
    engine, app_data, products_csv, tmp_path
):
    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.app.indexing import build_index

    out, _ = build_index(app_data["dir"], engine, tmp_path / "index", progress=False,
                         products=products_csv)  # fmt: skip
    catalog = Catalog(out, engine.weights_sha256)
    by_image = {}
    for item in catalog.items:
        by_image.setdefault(item["image"], []).append(item)
    full, titled, bare = (by_image[s["path"].name] for s in app_data["scenes"])
    assert {(i["title"], i["price"], i["url"], i["brand"]) for i in full} == {
        ("Everyday look", "49.90", "https://shop.example/p/1", "Acme")
    }
    assert all(i["label"] == "Everyday look" for i in full)
    assert all(i["label"] == "Weekend look" and "url" not in i and "price" not in i for i in titled)
    stem = app_data["scenes"][2]["path"].stem.replace("_", " ")
    assert {i["label"] for i in bare} == {f"{i['class_name'].capitalize()} · {stem}" for i in bare}
    assert catalog.manifest["products"]["items"] == len(full) + len(titled)
    assert all(i["colour"] in embedding.COLOUR_NAMES for i in catalog.items)


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            "image,title,url\na.png,A,javascript:alert(1)\n",
            "row 2: url 'javascript:alert(1)' is not",
        ),
        ("title,price\nA,3\n", "no 'image' column"),
        (
            "image,title\na.png,A\nb.png,B\na.png,C\n",
            "row 4: a.png is listed twice (first in row 2)",
        ),
    ],
)
def test_a_bad_products_file_is_refused_naming_the_row(tmp_path, rows, message):
    from fashion_mrcnn.app.products import read_products
    from fashion_mrcnn.errors import FashionDataError

    path = tmp_path / "products.csv"
    path.write_text(rows)
    with pytest.raises(FashionDataError, match=re.escape(message)):
        read_products(path)


def test_search_filters_by_category_and_colour_and_leaves_out_the_start_item(catalog_dir, engine):
    from fashion_mrcnn.app.catalog import Catalog

    catalog = Catalog(catalog_dir, engine.weights_sha256)
    start = 0
    query = catalog.vectors[start]
    own = catalog.items[start]["category_id"]
    same = catalog.search(query, own, None, k=20)
    assert same[0]["id"] == start and {i["category_id"] for i in same} == {own}
    every = catalog.search(query, None, None, k=20, exclude=[start])
    assert start not in [i["id"] for i in every] and len(every) == len(catalog) - 1
    assert [i["similarity"] for i in every] == sorted(
        (i["similarity"] for i in every), reverse=True
    )
    colour = catalog.items[start]["colour"]
    coloured = catalog.search(query, None, colour, k=20)
    assert coloured and {i["colour"] for i in coloured} == {colour}
    assert len(coloured) == sum(1 for i in catalog.items if i["colour"] == colour)


class _KindsEngine:
    """A stand-in model for a photo folder: each photo holds one garment whose RoI features
    say its kind (``kind`` in its name), whose colour says its colour (``red`` / ``blue``); the
    RoI features are non-negative and nearly alike, as a real network's ReLU outputs are."""

    class_names = ["BG", "shirt"]
    category_ids = {1: 1}
    weights = "kinds.h5"
    weights_sha256 = "0" * 64

    class config:
        DETECTION_MIN_CONFIDENCE = 0.5
        BACKBONE = "none"

    KINDS = {"tee": 0, "polo": 1, "henley": 2}

    def __init__(self, names):
        self.names = iter(names)  # the photos in the order build_index reads them

    def analyse(self, image, min_score=0.0):
        from fashion_mrcnn.app.engine import Analysis

        name = next(self.names)
        rng = np.random.default_rng(self.KINDS[name.split("_")[0]])
        roi = embedding._unit(1.0 + 0.1 * rng.random((1, 32)))  # kind: a small, fixed wobble
        red, blue = _garment((200, 30, 30))[0], _garment((30, 40, 200))[0]
        box = np.array([[8, 8, 24, 24]])
        masks = np.zeros((32, 32, 1), bool)
        masks[8:24, 8:24] = True
        colour = embedding.colour_descriptors(red if "red" in name else blue, masks, box)
        result = {
            "rois": box,
            "class_ids": np.array([1]),
            "scores": np.array([0.9]),
            "masks": masks,
        }
        return Analysis(result, roi, colour, embedding.shape_descriptors(masks, box), ["red"])


def test_a_garment_of_another_colour_still_finds_its_own_kind_first(tmp_path):
    """The RoI features, centred, outweigh colour: a blue tee finds the red tee before the blue
    polo and henley. Blended raw (not centred) or by colour alone, the blue ones would win."""
    from PIL import Image

    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.app.indexing import build_index

    names = ["henley_blue.png", "polo_blue.png", "tee_blue.png", "tee_red.png"]  # sorted
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in names:
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photos / name)
    out, _ = build_index(photos, _KindsEngine(names), tmp_path / "index", progress=False)
    catalog = Catalog(out)
    ids = {item["image"]: k for k, item in enumerate(catalog.items)}
    found = catalog.search(
        catalog.vectors[ids["tee_blue.png"]], 1, k=4, exclude=[ids["tee_blue.png"]]
    )
    assert [item["image"] for item in found][0] == "tee_red.png", found
