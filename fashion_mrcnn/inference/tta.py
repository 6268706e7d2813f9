"""Test-time augmentation and checkpoint ensembles: several passes over each image, their
detections merged into one set per image.

:class:`AugmentedModel` wraps one or more inference models of one config (an ensemble of
checkpoints) and stands in for a model wherever ``detect`` is called (``inference.detect``'s
loop, hence evaluation, ``predict``, the submission and ``tune-postprocess``). Its passes are
every model times every view:

- the image as it is, at the model's input size;
- ``flip``: its mirror image (left-right), the detections mirrored back;
- ``scales``: the image at other input sizes, ``IMAGE_MAX_DIM x factor`` (``IMAGE_MIN_DIM`` too)
  rounded to a multiple of 64; each size is a second graph of the same config sharing the
  model's weights (the graph's anchors are fixed per input size).

The merge rule, per image and per class (box voting with mask averaging, :func:`merge_passes`):

1. the detections of all P passes are pooled, each with its box in original pixels, its score
   and its mask as probabilities (before any threshold); every pass keeps detections down to
   the detection layer's floor (``graph.detection_score_floor``), so that an instance one pass
   scores just under the threshold still counts;
2. highest score first, a detection not yet taken opens a group; from every other pass the
   group takes that pass's untaken detection of the same class with the highest box IoU with
   it, if that IoU is at least ``iou_threshold`` (0.55): a pass votes once per instance;
3. a group is one instance: its score is the sum of the group's scores over P (a pass that
   missed the instance counts 0, so an instance every pass finds keeps its mean score and one
   found by a single pass of two is halved); its box is the score-weighted mean of the boxes;
   its mask is the mean of the members' probability maps (each pasted on the union of their
   boxes, 0 outside its own box), thresholded at ``mask_threshold`` (``detect(...,
   soft_masks=True)`` also returns that mean before the threshold, as ``MaskRCNN.detect``
   returns its probabilities);
4. instances scoring under ``min_confidence`` are dropped and the best
   ``DETECTION_MAX_INSTANCES`` kept, by score.

A single pass merges to exactly what ``detect`` returns (every group has one member), and so
does an ensemble of one model repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Box IoU at which two passes' detections of a class are the same instance.
MERGE_IOU = 0.55


@dataclass
class PassDetections:
    """One pass's detections on the original image: ``boxes`` int32 [N, (y1, x1, y2, x2)] px
    (y2/x2 exclusive), ``class_ids`` int32 [N], ``scores`` float32 [N], ``masks`` float32
    [N, mh, mw] (the mask head's probabilities for each box, any mh, mw); ``attributes``
    float32 [N, A], the attribute head's probabilities, or None without the head."""

    boxes: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    masks: np.ndarray
    attributes: np.ndarray | None = None

    def flipped(self, width: int) -> PassDetections:
        """The detections of a left-right mirrored image of ``width`` px, mirrored back."""
        boxes = self.boxes.copy()
        boxes[:, 1], boxes[:, 3] = width - self.boxes[:, 3], width - self.boxes[:, 1]
        return PassDetections(
            boxes, self.class_ids, self.scores, self.masks[:, :, ::-1], self.attributes
        )


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box [4] with boxes [N, 4] (pixels, y2/x2 exclusive)."""
    y1 = np.maximum(box[0], boxes[:, 0])
    x1 = np.maximum(box[1], boxes[:, 1])
    y2 = np.minimum(box[2], boxes[:, 2])
    x2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _mean_probabilities(boxes: np.ndarray, masks: list[np.ndarray]):
    """The members' probability maps averaged on the union of their boxes (each 0 outside its
    own box): ``(canvas float32 [uy2 - uy1, ux2 - ux1], (uy1, ux1, uy2, ux2))``, the union box
    in pixels of the original image (may reach past it)."""
    from fashion_mrcnn.ops.masks import box_probabilities

    uy1, ux1 = int(boxes[:, 0].min()), int(boxes[:, 1].min())
    uy2, ux2 = int(boxes[:, 2].max()), int(boxes[:, 3].max())
    canvas = np.zeros((uy2 - uy1, ux2 - ux1), np.float32)
    for (y1, x1, y2, x2), mask in zip(boxes, masks):
        canvas[y1 - uy1 : y2 - uy1, x1 - ux1 : x2 - ux1] += box_probabilities(
            mask, (y1, x1, y2, x2)
        )
    canvas /= len(masks)
    return canvas, (uy1, ux1, uy2, ux2)


def _on_image(values: np.ndarray, union, image_shape, dtype) -> np.ndarray:
    """``values`` [uy2 - uy1, ux2 - ux1] of the union box pasted into zeros [H, W] of
    ``dtype``, clipped to the image."""
    height, width = int(image_shape[0]), int(image_shape[1])
    uy1, ux1, uy2, ux2 = union
    out = np.zeros((height, width), dtype=dtype)
    cy1, cx1, cy2, cx2 = max(uy1, 0), max(ux1, 0), min(uy2, height), min(ux2, width)
    if cy2 > cy1 and cx2 > cx1:
        out[cy1:cy2, cx1:cx2] = values[cy1 - uy1 : cy2 - uy1, cx1 - ux1 : cx2 - ux1]
    return out


def merge_passes(
    passes: Sequence[PassDetections],
    image_shape: Sequence[int],
    min_confidence: float,
    mask_threshold: float,
    max_instances: int,
    iou_threshold: float = MERGE_IOU,
    soft_masks: bool = False,
) -> dict:
    """Merge the detections of ``len(passes)`` passes over one image (the module's rule).

    image_shape: (H, W[, C]) of the original image. Returns ``detect``'s dict: ``rois`` int32
    [N, 4], ``class_ids`` int32 [N], ``scores`` float32 [N], ``masks`` bool [H, W, N], by
    descending score; with ``soft_masks``, also ``soft_masks`` uint8 [H, W, N]: each instance's
    mean probability map before the threshold, quantised (``ops.masks.quantise_probabilities``);
    when the passes carry attribute probabilities, ``attribute_probs`` float32 [N, A]: the mean
    of the group members' (as for the masks).
    """
    from fashion_mrcnn.ops.masks import quantise_probabilities

    count = len(passes)
    boxes = np.concatenate([p.boxes for p in passes]).reshape(-1, 4).astype(np.int64)
    class_ids = np.concatenate([p.class_ids for p in passes]).astype(np.int32)
    scores = np.concatenate([p.scores for p in passes]).astype(np.float32)
    masks = [m for p in passes for m in p.masks]
    source = np.concatenate([np.full(len(p.scores), k) for k, p in enumerate(passes)]).astype(int)
    order = np.argsort(-scores, kind="stable")
    taken = np.zeros(len(scores), bool)
    groups = []
    for i in order:
        if taken[i]:
            continue
        free = np.flatnonzero(~taken & (class_ids == class_ids[i]) & (source != source[i]))
        iou = _box_iou(boxes[i], boxes[free])
        members = [i]
        for p in np.unique(source[free]):  # each other pass: its best match, if close enough
            mine = np.flatnonzero(source[free] == p)
            best = mine[np.argmax(iou[mine])]
            if iou[best] >= iou_threshold:
                members.append(int(free[best]))
        members = np.array(members)
        taken[members] = True
        score = float(scores[members].sum()) / count
        if score >= min_confidence:
            groups.append((score, int(class_ids[i]), members))
    groups = sorted(groups, key=lambda g: -g[0])[:max_instances]
    h, w = int(image_shape[0]), int(image_shape[1])
    out_boxes = np.zeros((len(groups), 4), np.int32)
    out_masks = np.zeros((h, w, len(groups)), bool)
    out_soft = np.zeros((h, w, len(groups) if soft_masks else 0), np.uint8)
    for k, (_, _, members) in enumerate(groups):
        weights = scores[members] / scores[members].sum()
        out_boxes[k] = np.round((boxes[members] * weights[:, None]).sum(axis=0))
        canvas, union = _mean_probabilities(boxes[members], [masks[j] for j in members])
        out_masks[:, :, k] = _on_image(canvas >= mask_threshold, union, image_shape, bool)
        if soft_masks:
            out_soft[:, :, k] = _on_image(
                quantise_probabilities(canvas), union, image_shape, np.uint8
            )
    merged = {
        "rois": out_boxes,
        "class_ids": np.array([g[1] for g in groups], np.int32),
        "scores": np.array([g[0] for g in groups], np.float32),
        "masks": out_masks,
    }
    if all(p.attributes is not None for p in passes):
        attributes = np.concatenate([p.attributes for p in passes]).astype(np.float32)
        merged["attribute_probs"] = np.array(
            [attributes[members].mean(axis=0) for _, _, members in groups], np.float32
        ).reshape(len(groups), attributes.shape[1])
    return {**merged, "soft_masks": out_soft} if soft_masks else merged


def parse_tta(tokens) -> tuple[bool, tuple[float, ...]]:
    """A TTA spec -> ``(flip, scales)``: ``tokens`` are ``"flip"`` and input-size factors, as
    ``--tta flip 0.8 1.2`` gives them (an empty spec or None: no TTA). ConfigError names a token
    that is neither."""
    from fashion_mrcnn.errors import ConfigError

    flip, scales = False, []
    for token in tokens or ():
        text = str(token).strip().lower()
        if text == "flip":
            flip = True
            continue
        try:
            scales.append(float(text))
        except ValueError:
            raise ConfigError(
                f"--tta takes 'flip' and input-size factors such as 0.8 1.2, got {token!r}"
            ) from None
    return flip, tuple(scales)


def scaled_dims(config, factor: float) -> tuple[int, int]:
    """(IMAGE_MIN_DIM, IMAGE_MAX_DIM) times ``factor``, each rounded to a multiple of 64 (at
    least 64): the input size of a scale pass."""
    return tuple(max(64, int(round(d * factor / 64.0)) * 64) for d in (
        config.IMAGE_MIN_DIM, config.IMAGE_MAX_DIM
    ))  # fmt: skip


def _check_distinct_sizes(config, scales) -> None:
    """ConfigError when a scale factor gives the model's own input size, or the size of another
    factor (sizes are multiples of 64: ``1.25`` at 128 px is 128 px again): such a pass would
    repeat a view, cost its time and change nothing."""
    from fashion_mrcnn.errors import ConfigError

    own = (int(config.IMAGE_MIN_DIM), int(config.IMAGE_MAX_DIM))
    seen = {own: "the model's own size"}
    for factor in scales:
        dims = scaled_dims(config, factor)
        if dims in seen:
            raise ConfigError(
                f"TTA scale {factor:g} gives {dims[1]} px at IMAGE_MAX_DIM {own[1]}, the same "
                f"input as {seen[dims]} (sizes are rounded to multiples of 64): a repeated view "
                f"changes nothing; pick a factor that moves the size by 64 px or more"
            )
        seen[dims] = f"scale {factor:g}"


def pass_detections(model, image: np.ndarray, floor: float) -> PassDetections:
    """One inference model's detections on one image (uint8 [H, W, 3]) scoring at least
    ``floor``, masks as probabilities (and the attribute head's probabilities, if it has one)."""
    from fashion_mrcnn.ops.image import parse_image_meta
    from fashion_mrcnn.ops.transform import kept_detection_rows, unmold_instances

    molded, metas, _ = model.mold_inputs([image])
    raw = model.run_molded(molded, metas)
    meta = parse_image_meta(np.asarray(metas))
    frame = (meta["original_image_shape"][0], np.asarray(molded[0]).shape, meta["window"][0])
    found = PassDetections(
        *unmold_instances(raw["detections"][0], raw["mrcnn_mask"][0], *frame, floor)
    )
    if "mrcnn_attr" in raw:  # the same rows as the kept detections
        rows = kept_detection_rows(raw["detections"][0], *frame, floor)
        found.attributes = np.asarray(raw["mrcnn_attr"][0][rows], np.float32)
    return found


class AugmentedModel:
    """Several passes per image (an ensemble of ``models``, each also on the mirrored image if
    ``flip``, and at each input-size factor in ``scales``), merged by :func:`merge_passes`.

    models: inference ``MaskRCNN`` models of one config (the first one's config is this
    object's ``config``). ``detect`` keeps ``MaskRCNN.detect``'s contract, so this object goes
    wherever a model does (``inference.detect.detect_batches``).
    """

    def __init__(self, models, flip: bool = False, scales: Sequence[float] = ()):
        from fashion_mrcnn.errors import ConfigError

        self.models = list(models)
        if not self.models:
            raise ConfigError("an ensemble needs at least one model")
        self.config = self.models[0].config
        bad = [s for s in scales if not (0.25 <= float(s) <= 4.0) or float(s) == 1.0]
        if bad:
            raise ConfigError(f"TTA scales must lie in [0.25, 4] and differ from 1, got {bad}")
        self.flip = bool(flip)
        self.scales = tuple(float(s) for s in scales)
        _check_distinct_sizes(self.config, self.scales)
        self.weights_path = getattr(self.models[0], "weights_path", None)
        self._views = [m for m in self.models] + [
            self._rescaled(m, s) for m in self.models for s in self.scales
        ]

    @staticmethod
    def _rescaled(model, factor: float):
        """A second graph of ``model``'s config at ``factor`` x its input size, same weights."""
        from fashion_mrcnn.model.maskrcnn import MaskRCNN

        lo, hi = scaled_dims(model.config, factor)
        other = MaskRCNN(
            "inference",
            model.config.replace(IMAGE_MIN_DIM=lo, IMAGE_MAX_DIM=hi, BACKBONE_WEIGHTS=None),
            model_dir=model.model_dir,
        )
        other.keras_model.set_weights(model.keras_model.get_weights())
        other.weights_path = getattr(model, "weights_path", None)
        return other

    @property
    def pass_count(self) -> int:
        """Passes per image: views (models x (1 + scales)) x (2 with flip, else 1)."""
        return len(self._views) * (2 if self.flip else 1)

    def describe(self) -> str:
        """One phrase for a run's report, e.g. ``"3 checkpoints x (flip, scales 0.8, 1.2): 18
        passes"``."""
        parts = (["flip"] if self.flip else []) + (
            ["scales " + ", ".join(f"{s:g}" for s in self.scales)] if self.scales else []
        )
        n = len(self.models)
        head = f"{n} checkpoint{'s' if n > 1 else ''}"
        return f"{head}{' x (' + ', '.join(parts) + ')' if parts else ''}: {self.pass_count} passes"

    def detect(self, images, verbose=0, min_confidence=None, mask_threshold=None, soft_masks=False):
        """``MaskRCNN.detect`` over the merged passes: one dict per image (``rois``,
        ``class_ids``, ``scores``, ``masks`` bool [H, W, N]; with ``soft_masks``, also
        ``soft_masks`` uint8 [H, W, N], the mean probabilities before the threshold)."""
        cfg = self.config
        min_confidence = cfg.DETECTION_MIN_CONFIDENCE if min_confidence is None else min_confidence
        mask_threshold = cfg.MASK_THRESHOLD if mask_threshold is None else mask_threshold
        from fashion_mrcnn.model.graph import detection_score_floor

        floor = detection_score_floor(min_confidence)
        results = []
        for image in images:
            image = np.asarray(image)
            passes = []
            for view in self._views:
                passes.append(pass_detections(view, image, floor))
                if self.flip:
                    mirrored = np.ascontiguousarray(image[:, ::-1])
                    passes.append(pass_detections(view, mirrored, floor).flipped(image.shape[1]))
            merged = merge_passes(
                passes,
                image.shape,
                float(min_confidence),
                float(mask_threshold),
                int(cfg.DETECTION_MAX_INSTANCES),
                soft_masks=soft_masks,
            )
            if "attribute_probs" in merged:  # ids and scores as MaskRCNN.detect gives them
                from fashion_mrcnn.data.attributes import detection_attributes

                merged.update(
                    detection_attributes(merged["attribute_probs"], merged["class_ids"], cfg)
                )
            results.append(merged)
        return results


def detector_identity(model) -> dict:
    """What decides a detector's output, for checking that shards of one run used the same:
    the sha256 of each checkpoint file it loaded (None for weights not read from a file), the
    test-time views and the detection settings. Works for a ``MaskRCNN`` and an
    :class:`AugmentedModel`."""
    import hashlib
    from pathlib import Path

    def digest(path):
        if path is None or not Path(path).is_file():
            return None
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    models = getattr(model, "models", [model])
    cfg = model.config
    return {
        "checkpoints_sha256": [digest(getattr(m, "weights_path", None)) for m in models],
        "flip": bool(getattr(model, "flip", False)),
        "scales": list(getattr(model, "scales", ())),
        "detection": [
            float(cfg.DETECTION_MIN_CONFIDENCE),
            int(cfg.DETECTION_MAX_INSTANCES),
            float(cfg.MASK_THRESHOLD),
        ],
    }
