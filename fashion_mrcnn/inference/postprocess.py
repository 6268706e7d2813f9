"""Post-processing of one image's detections: the one place a tuned setting is applied.

``fashion-mrcnn tune-postprocess`` searches a :class:`PostprocessSetting` on the Kaggle metric
(:mod:`fashion_mrcnn.evaluation.postprocess_search`) and writes it as ``postprocess.yaml``;
``submit`` and ``predict`` read it with ``--postprocess FILE``, and ``evaluate --postprocess
FILE`` scores the detections after it. All of them call :func:`apply_postprocess`, so the
setting that was scored is the setting that is applied.

Masks: ``detect`` returns binary masks thresholded at the config's ``MASK_THRESHOLD`` (0.5,
Matterport's); with ``soft_masks=True`` it also returns them before the threshold (``soft_masks``
uint8 [H, W, N], ``ops.masks``). A setting's ``mask_threshold`` (None: keep ``detect``'s masks)
re-binarises those soft masks, so a detection dict it is applied to must carry them:
:attr:`PostprocessSetting.needs_soft_masks` tells ``predict`` / ``submit`` / ``evaluate`` to ask
for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.inference.overlaps import OVERLAP_POLICIES, remove_overlaps
from fashion_mrcnn.ops.masks import threshold_soft_masks
from fashion_mrcnn.ops.nms import per_class_nms_np

POSTPROCESS_YAML = "postprocess.yaml"
_PER_INSTANCE_KEYS = ("rois", "class_ids", "scores")
_MASK_KEYS = ("masks", "soft_masks")  # [H, W, N]: instances on the last axis


@dataclass(frozen=True)
class PostprocessSetting:
    """What happens to an image's detections before they are written.

    Attributes:
        score_threshold: keep detections with ``score >= score_threshold``.
        class_thresholds: internal class id -> its own score threshold (overrides the global
            one for that class).
        nms_iou: class-wise greedy NMS on the detection **boxes** at this IoU (``None``: off).
        max_instances: keep at most this many detections per image, best scores first
            (``None``: all).
        overlap: ``"all"``: a pixel goes to the highest-scoring mask of the image; ``"class"``:
            only masks of the same class are made disjoint; ``"none"``: overlaps stay.
        min_area: drop masks with fewer pixels (at the detection's resolution, after the overlap
            removal); masks left empty are always dropped.
        mask_threshold: binarise the detections' ``soft_masks`` at this probability, in (0, 1]
            (``ops.masks.threshold_soft_masks``), before anything else looks at a mask;
            ``None``: keep ``detect``'s binary masks (the config's ``MASK_THRESHOLD``, 0.5).
    """

    score_threshold: float = 0.0
    class_thresholds: Mapping[int, float] = field(default_factory=dict)
    nms_iou: float | None = None
    max_instances: int | None = None
    overlap: str = "all"
    min_area: int = 0
    mask_threshold: float | None = None

    def __post_init__(self):
        if not 0.0 <= float(self.score_threshold) <= 1.0:  # NaN fails too
            raise ConfigError(f"score_threshold must be in [0, 1], got {self.score_threshold!r}")
        for class_id, value in self.class_thresholds.items():
            if isinstance(class_id, bool) or not isinstance(class_id, int | np.integer):
                raise ConfigError(f"class_thresholds key {class_id!r} is not an integer class id")
            if class_id < 1:
                raise ConfigError(
                    f"class_thresholds key {class_id} is not a class id (ids start at 1; 0 is "
                    "the background)"
                )
            if not 0.0 <= float(value) <= 1.0:
                raise ConfigError(
                    f"class_thresholds value of class {class_id} must be in [0, 1], got {value!r}"
                )
        if self.overlap not in OVERLAP_POLICIES:
            raise ConfigError(f"overlap must be one of {OVERLAP_POLICIES}, got {self.overlap!r}")
        if self.nms_iou is not None and not 0.0 < float(self.nms_iou) <= 1.0:
            raise ConfigError(f"nms_iou must be in (0, 1] or null, got {self.nms_iou!r}")
        if self.max_instances is not None and int(self.max_instances) < 1:
            raise ConfigError(f"max_instances must be >= 1 or null, got {self.max_instances!r}")
        if int(self.min_area) < 0:
            raise ConfigError(f"min_area must be >= 0, got {self.min_area!r}")
        if self.mask_threshold is not None and not 0.0 < float(self.mask_threshold) <= 1.0:
            raise ConfigError(
                f"mask_threshold must be in (0, 1] or null, got {self.mask_threshold!r}"
            )

    @property
    def needs_soft_masks(self) -> bool:
        """True when applying the setting needs ``detect(..., soft_masks=True)``'s soft masks."""
        return self.mask_threshold is not None

    def threshold_of(self, class_ids: np.ndarray) -> np.ndarray:
        """float [N] score threshold of each detection's class."""
        return np.array(
            [self.class_thresholds.get(int(c), self.score_threshold) for c in class_ids],
            dtype=np.float64,
        )

    def to_dict(self) -> dict:
        """Plain YAML-ready dict (class thresholds keyed by int class id, sorted)."""
        out = asdict(self)
        out["class_thresholds"] = {
            int(k): float(v) for k, v in sorted(self.class_thresholds.items())
        }
        return out

    def describe(self) -> str:
        """One short line, e.g. for a ranked table."""
        d = self.to_dict()
        d["class_thresholds"] = ",".join(f"{k}:{v:g}" for k, v in d["class_thresholds"].items())
        return " ".join(f"{k}={v}" for k, v in d.items())


def _take(detections: dict, idx: np.ndarray) -> dict:
    """The detections ``idx`` of a ``detect()`` dict; other per-instance lists (e.g.
    ``attribute_ids``) follow, image-level entries are copied as they are."""
    n = len(np.asarray(detections["class_ids"]).reshape(-1))
    out = {}
    for key, value in detections.items():
        if key in _MASK_KEYS:
            out[key] = np.asarray(value)[:, :, idx]
        elif key in _PER_INSTANCE_KEYS:
            out[key] = np.asarray(value)[idx]
        elif isinstance(value, list | np.ndarray) and len(value) == n:
            out[key] = [value[i] for i in idx] if isinstance(value, list) else value[idx]
        else:
            out[key] = value
    return out


def apply_postprocess(detections: dict, setting: PostprocessSetting) -> dict:
    """Apply ``setting`` to one image's ``detect()`` dict.

    Args:
        detections: ``rois`` int [N, (y1, x1, y2, x2)] pixels, ``class_ids`` int [N],
            ``scores`` float [N], ``masks`` bool [H, W, N]; other per-instance lists follow.
            ``soft_masks`` uint8 [H, W, N] (``detect(..., soft_masks=True)``): needed when the
            setting has a ``mask_threshold``, else ignored.

    Returns:
        A new dict of the same layout with K <= N detections in descending score order, without
        ``soft_masks`` (consumed here; the binary ``masks`` are what is written). Steps: mask
        threshold (when set) -> score thresholds (per class, else global) -> class-wise box NMS
        -> max instances -> overlap removal -> min area.

    Raises:
        ValueError: the setting has a ``mask_threshold`` and ``detections`` no ``soft_masks``.
    """
    if setting.mask_threshold is not None:
        if "soft_masks" not in detections:
            raise ValueError(
                f"the setting's mask_threshold {setting.mask_threshold} re-binarises soft masks, "
                "and these detections have none: detect with soft_masks=True"
            )
        masks = threshold_soft_masks(detections["soft_masks"], setting.mask_threshold)
        detections = {**detections, "masks": masks}
    detections = {k: v for k, v in detections.items() if k != "soft_masks"}
    class_ids = np.asarray(detections["class_ids"]).reshape(-1)
    scores = np.asarray(detections["scores"], dtype=np.float64).reshape(-1)
    idx = np.flatnonzero(scores >= setting.threshold_of(class_ids))
    if setting.nms_iou is not None and idx.size:
        boxes = np.asarray(detections["rois"], dtype=np.float32).reshape(-1, 4)[idx]
        idx = idx[per_class_nms_np(boxes, scores[idx], class_ids[idx], setting.nms_iou, idx.size)]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    if setting.max_instances is not None:
        idx = idx[: int(setting.max_instances)]
    out = _take(detections, idx)
    masks = np.asarray(out["masks"], dtype=bool)
    if setting.overlap != "none" and idx.size > 1:
        groups = class_ids[idx] if setting.overlap == "class" else None
        masks = remove_overlaps(masks, scores[idx], groups)
    out["masks"] = masks
    keep = np.flatnonzero(masks.sum(axis=(0, 1)) >= max(int(setting.min_area), 1))
    return _take(out, keep) if keep.size < idx.size else out


# ----------------------------------------------------------------------------- YAML
def write_postprocess(setting: PostprocessSetting, path: str | Path) -> Path:
    """Write ``setting`` as YAML (the keys of :class:`PostprocessSetting`)."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(setting.to_dict(), sort_keys=False))
    return path


def read_postprocess(path: str | Path, num_classes: int | None = None) -> PostprocessSetting:
    """Read a ``postprocess.yaml``.

    Args:
        path: the YAML file (keys of :class:`PostprocessSetting`).
        num_classes: the model's ``NUM_CLASSES`` (background included); when given, every
            ``class_thresholds`` key must be a class id of the model, 1 .. ``num_classes - 1``.

    Raises:
        ConfigError naming the file, the key and the value: missing file, not YAML, not a
        mapping, an unknown key, a value of the wrong type or out of its range (thresholds in
        [0, 1], ``nms_iou`` and ``mask_threshold`` in (0, 1], ``max_instances`` >= 1,
        ``min_area`` >= 0), a class id the model does not have. A file without
        ``mask_threshold`` (written before it was searched) keeps ``detect``'s masks.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such post-processing file")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of post-processing keys, got {data!r}")
    known = list(PostprocessSetting.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(known)})")
    try:
        values = dict(data)
        values["class_thresholds"] = _class_thresholds(data.get("class_thresholds"), num_classes)
        for key, cast in (("score_threshold", float), ("min_area", int), ("overlap", str)):
            if key in values:
                values[key] = _cast(key, values[key], cast)
        for key, cast in (("nms_iou", float), ("max_instances", int), ("mask_threshold", float)):
            if values.get(key) is not None:
                values[key] = _cast(key, values[key], cast)
        return PostprocessSetting(**values)
    except ConfigError as exc:  # a type or range check, named
        raise ConfigError(f"{path}: {exc}") from None


def _cast(key: str, value, cast):
    """``cast(value)`` for the YAML field ``key``; ConfigError naming both when it does not fit
    (booleans and lists are refused, a float for an int field must be whole)."""
    if isinstance(value, bool | list | dict) or value is None:
        raise ConfigError(f"{key} must be {cast.__name__}, got {value!r}")
    try:
        out = cast(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be {cast.__name__}, got {value!r}") from None
    if cast is int and float(value) != out:
        raise ConfigError(f"{key} must be a whole number, got {value!r}")
    return out


def _class_thresholds(data, num_classes: int | None) -> dict[int, float]:
    """``class_thresholds`` of the YAML as ``{class id: threshold}``, checked (see
    :func:`read_postprocess`)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"class_thresholds must be a mapping class id -> threshold, got {data!r}")
    out = {}
    for key, value in data.items():
        class_id = _cast("class_thresholds key", key, int)
        threshold = _cast(f"class_thresholds value of class {key}", value, float)
        if num_classes is not None and not 1 <= class_id < num_classes:
            raise ConfigError(
                f"class_thresholds key {key!r} is not a class id of the model (it has classes "
                f"1..{num_classes - 1})"
            )
        out[class_id] = threshold
    return out
