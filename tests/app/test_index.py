"""Shop-the-look: the descriptors, the per-category vector index (numpy and faiss agree), and
``fashion-mrcnn index`` over an annotated dataset, a plain photo folder and a broken photo."""

from __future__ import annotations

import json

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


def test_combined_vectors_blend_the_two_similarities():
    rng = np.random.default_rng(0)
    roi = embedding._unit(rng.normal(size=(2, 16)))
    colour = embedding._unit(rng.random((2, 72)))
    v = embedding.combine(roi, colour, roi_weight=0.3)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    expected = 0.3 * roi[0] @ roi[1] + 0.7 * colour[0] @ colour[1]
    assert abs(v[0] @ v[1] - expected) < 1e-6


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

    from fashion_mrcnn.app.catalog import Catalog, build_index

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

    from fashion_mrcnn.app.catalog import build_index
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
    from fashion_mrcnn.app import catalog as cat

    shared = tmp_path / "shared" / "datasets" / "ccp-fashion"
    shared.mkdir(parents=True)
    (shared / "train.csv").write_text("ImageId,EncodedPixels,Height,Width,ClassId\n")
    assert cat.default_catalog_source(search_from=tmp_path / "work") == shared.resolve()

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
