"""Inference stages: an inference model from a checkpoint, predictions for files and folders
(``predict``), the Kaggle submission (``submit``), and the class names and class-id maps they
need.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow.remote_weights import local_weights
from fashion_mrcnn.workflow.stages.common import mkdir


def inference_config(config):
    """The inference twin of a training config: one image per batch on one device."""
    return config.replace(IMAGES_PER_GPU=1, GPU_COUNT=1)


def load_inference_model(config, weights, model_dir=None, allow_partial: bool = False):
    """An inference ``MaskRCNN`` for ``config`` with ``weights`` loaded (checkpoint or .h5; a
    run folder or a URL of either: ``remote_weights.local_weights``, copied into a local cache).

    Every weighted layer of the inference graph must be in the file (WeightsError naming the
    missing ones) unless ``allow_partial``, which loads what fits and reports the rest. So the
    backbone's own initial weights (BACKBONE_WEIGHTS) are not read first unless
    ``allow_partial``: a checkpoint of an ImageNet-initialised run serves without that file."""
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    if weights is None:
        raise ConfigError("no weights given: train first or pass a checkpoint")
    weights = local_weights(weights)
    config = inference_config(config)
    if not allow_partial and config.BACKBONE_WEIGHTS:
        config = config.replace(BACKBONE_WEIGHTS=None)
    model = MaskRCNN("inference", config, model_dir=model_dir or Path(weights).parent)
    model.load_weights(str(weights), by_name=True, allow_partial=allow_partial)
    return model


def load_detector(config, weights, tta=None, allow_partial: bool = False):
    """What ``detect`` runs on: one checkpoint's inference model, or with several checkpoints
    (a list: an ensemble) or test-time views (``tta``: ``"flip"`` and input-size factors, e.g.
    ``["flip", 1.2]``; ``inference.tta.parse_tta``) an ``inference.tta.AugmentedModel`` over
    them (its merge rule: that module)."""
    from fashion_mrcnn.inference.tta import AugmentedModel, parse_tta

    paths = [weights] if isinstance(weights, str | Path) else list(weights)
    flip, scales = parse_tta(tta)
    models = [load_inference_model(config, w, allow_partial=allow_partial) for w in paths]
    if len(models) == 1 and not flip and not scales:
        return models[0]
    return AugmentedModel(models, flip=flip, scales=scales)


def as_model(config, weights, tta=None):
    """``weights`` itself when it is a model (has ``detect``), else :func:`load_detector`."""
    return weights if hasattr(weights, "detect") else load_detector(config, weights, tta)


def predict(
    config,
    weights,
    inputs,
    out_dir,
    class_names,
    category_ids=None,
    postprocess=None,
    shard=None,
) -> dict:
    """Predictions for files / folders: ``predictions.jsonl`` and an overlay PNG per image.

    Files that cannot be read are skipped and listed in ``skipped.csv`` (``skipped`` counts
    them, ``skip_report`` is its path or None). ``postprocess``: a ``PostprocessSetting`` (or its
    YAML path) applied to every image's detections. ``shard``: a ``shards.Shard``: only its block
    of the inputs, and its manifest ``shard.json`` (``manifest``; None without a shard). With
    the config's attribute names (``ATTRIBUTE_NAMES``) each instance also carries
    ``attribute_names``."""
    from fashion_mrcnn.errors import SKIP_REPORT_FILE, SkipReport
    from fashion_mrcnn.predict import JSONL_NAME, predict_to_dir
    from fashion_mrcnn.shards import manifest_path

    postprocess = _postprocess_setting(postprocess, int(config.NUM_CLASSES))
    model = as_model(config, weights)
    out_dir = mkdir(out_dir)
    skipped = SkipReport("predict")
    records = predict_to_dir(
        model, inputs, out_dir, class_names, category_ids=category_ids, skipped=skipped,
        postprocess=postprocess, shard=shard, attributes=config.attribute_name_map() or None,
    )  # fmt: skip
    return {
        "jsonl": str(out_dir / JSONL_NAME),
        "images": len(records),
        "instances": sum(len(r["instances"]) for r in records),
        "overlays": str(out_dir / "overlays"),
        "skipped": len(skipped),
        "skip_report": str(out_dir / SKIP_REPORT_FILE) if len(skipped) else None,
        "manifest": None if shard is None else str(manifest_path(out_dir, folder=True)),
    }


def submit(
    config,
    weights,
    images_dir,
    out_csv,
    class_map,
    size=(512, 512),
    attributes: str = "keep",
    overlap: str = "all",
    min_area: int = 0,
    postprocess=None,
    shard=None,
    layout: int = 2019,
) -> dict:
    """Predict every image of ``images_dir``, write the Kaggle CSV and validate it.

    ``class_map`` maps internal class ids to iMaterialist ClassId strings (see
    :func:`class_map_for`). ``postprocess``: a ``PostprocessSetting`` (or its YAML path) applied
    to every image's detections; its overlap policy then replaces ``overlap``. ``shard``: a
    ``shards.Shard``: only its block of the images (the CSV is validated against that block),
    then its manifest ``<out_csv>.shard.json`` (``manifest``; None without a shard), whose
    settings (size, overlap, attributes, min area, layout) a merge requires equal across
    shards. ``layout``: 2019 (attribute ids as ``ClassId`` suffixes) or 2020 (``AttributesIds``).
    """
    from fashion_mrcnn.data.images import list_images
    from fashion_mrcnn.inference.postprocess import apply_postprocess
    from fashion_mrcnn.inference.tta import detector_identity
    from fashion_mrcnn.shards import manifest_path, write_manifest
    from fashion_mrcnn.submission import predict_submission, validate_submission

    postprocess = _postprocess_setting(postprocess, int(config.NUM_CLASSES))
    if postprocess is not None:
        overlap = postprocess.overlap
    model = as_model(config, weights)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    manifest = manifest_path(out_csv, folder=False)
    manifest.unlink(missing_ok=True)  # written again only when this run finishes
    frame = predict_submission(
        model,
        images_dir,
        out_csv,
        size=tuple(size),
        overlap=overlap,
        min_area=min_area,
        attributes=attributes,
        class_map=class_map,
        postprocess=None
        if postprocess is None
        else partial(apply_postprocess, setting=postprocess),
        shard=shard,
        soft_masks=postprocess is not None and postprocess.needs_soft_masks,
        layout=int(layout),
    )
    expected = images_dir if shard is None else shard.select(list_images(images_dir))
    problems = validate_submission(out_csv, expected, size=tuple(size), overlap=overlap)
    if shard is not None:
        names = [p.name for p in list_images(images_dir)]
        settings = {"size": [int(v) for v in size], "overlap": overlap,
                    "attributes": attributes, "min_area": int(min_area), "layout": int(layout),
                    "model": detector_identity(model),
                    "postprocess": None if postprocess is None else postprocess.to_dict()}  # fmt: skip
        write_manifest(manifest, "submit", shard, names, {"rows": len(frame)}, settings)
    return {
        "csv": str(out_csv),
        "rows": len(frame),
        "images": int(frame["ImageId"].nunique()),
        "problems": problems,
        "manifest": None if shard is None else str(manifest),
    }


def class_names_for(categories) -> list[str]:
    """The model's class names for a kept-categories list: ``"BG"`` (class 0), then each
    category's name in internal class id order."""
    return ["BG"] + [str(c["name"]) for c in categories]


def category_ids_for(categories) -> dict[int, int]:
    """Internal class id -> source category id for a kept-categories list (BG excluded)."""
    return {k + 1: int(c["id"]) for k, c in enumerate(categories)}


def class_map_for(dataset) -> dict[int, str]:
    """Internal class id -> iMaterialist category id string, for submissions."""
    return {k: str(v) for k, v in category_ids_for(dataset.categories).items()}


#: ``tuned_postprocess``'s "look for a tuned file" value (notebook 05's default).
AUTO_POSTPROCESS = "auto"


def tuned_postprocess(postprocess_yaml, previous_stage_dir="", weights=None) -> Path | None:
    """The post-processing file a notebook stage applies, said on stdout.

    ``postprocess_yaml``: a path (that file, which must exist); ``""`` / None: none;
    :data:`AUTO_POSTPROCESS`: the first ``postprocess.yaml`` (``tune-postprocess --out DIR``'s
    best setting) found in ``previous_stage_dir``, then in the run folder of ``weights`` (the
    folder holding its ``train_config.yaml``, ``rundir.find_run_file``), else None: the
    detections are then written as ``detect`` gives them (the overlap policy still applies).
    """
    from fashion_mrcnn.inference.postprocess import POSTPROCESS_YAML
    from fashion_mrcnn.workflow.rundir import CONFIG_FILE, find_run_file

    if not postprocess_yaml:
        return None
    if str(postprocess_yaml) != AUTO_POSTPROCESS:
        path = Path(postprocess_yaml)
        if not path.is_file():
            raise ConfigError(f"{path}: no such post-processing file")
        print(f"post-processing: {path}")
        return path
    places = [Path(previous_stage_dir)] if previous_stage_dir else []
    run_config = find_run_file(local_weights(weights), CONFIG_FILE) if weights else None
    places += [run_config.parent] if run_config is not None else []
    for place in places:
        if (place / POSTPROCESS_YAML).is_file():
            print(f"post-processing: the tuned {place / POSTPROCESS_YAML}")
            return place / POSTPROCESS_YAML
    looked = ", ".join(str(p) for p in places) or "nowhere (no previous stage or run folder)"
    print(
        f"post-processing: no tuned {POSTPROCESS_YAML} found (looked in {looked}); detections "
        "are written as detect gives them. Tune one with `fashion-mrcnn tune-postprocess DATA "
        "--weights CKPT --out DIR` into one of those folders, or set postprocess_yaml"
    )
    return None


def _postprocess_setting(postprocess, num_classes: int | None = None):
    """None, a ``PostprocessSetting``, or a YAML path read with ``read_postprocess`` (its class
    ids checked against ``num_classes``)."""
    if postprocess is None or not isinstance(postprocess, str | Path):
        return postprocess
    from fashion_mrcnn.inference.postprocess import read_postprocess

    return read_postprocess(postprocess, num_classes)
