"""The app's one model: detections plus the RoI features shop-the-look compares.

:class:`Engine` loads a checkpoint the way ``fashion-mrcnn predict`` does (``train_config.yaml``
and ``classes.json`` found beside it, every layer required unless ``allow_partial``) and adds a
second ``keras.Model`` over the same inference graph whose outputs are the detections, the mask
head's output and the FPN levels P2..P5. One forward pass then gives both what ``detect``
returns and the pyramid the graph's own ``roi_align_mask`` layer pools for any boxes: those of
the detections (a query) or of a catalogue's ground truth (indexing). With the attribute head
(``NUM_ATTRIBUTES`` > 0) the graph's ``mrcnn_attr`` output is kept too, so an analysis carries
``detect``'s ``attribute_ids`` / ``attribute_scores`` / ``attribute_probs``, and
:func:`instance_attributes` gives the page each instance's attributes by name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_mrcnn.app import embedding
from fashion_mrcnn.app.project import (
    SYNTHETIC_ATTRIBUTES,
    Config,
    ConfigError,
    boxes_to_molded,
    category_ids_for,
    class_names_for,
    detection_attributes,
    detection_to_record,
    find_run_file,
    kept_detection_rows,
    load_inference_model,
    predict_finite,
)

LEVELS = (2, 3, 4, 5)
#: The page's name for an attribute id whose name is not known.
UNNAMED_ATTRIBUTE = "attribute {id}"


def attribute_names_for(config) -> dict[int, str]:
    """``{attribute id: name}`` for a model's attribute vocabulary (``config.attribute_ids()``).

    The config's own names (``ATTRIBUTE_NAMES``: from the training data's attribute list, saved
    in the run's ``train_config.yaml``); else, for a run trained before those were kept, the
    synthetic scenes' names (``data.synthetic.ATTRIBUTES``: "stripe", "mini (length)", ...)
    when every id is one of theirs; else none: such ids read :data:`UNNAMED_ATTRIBUTE`
    (``"attribute 12"``).
    """
    named = config.attribute_name_map()
    if named:
        return named
    synthetic = {int(a["id"]): str(a["name"]) for a in SYNTHETIC_ATTRIBUTES}
    ids = config.attribute_ids()
    return {a: synthetic[a] for a in ids} if ids and set(ids) <= set(synthetic) else {}


def instance_attributes(result: dict, names) -> list[list[dict]]:
    """Each instance's attributes as the page shows them: ``[{"id", "name", "score"}]`` by
    increasing id, for a ``detect()`` dict (its ``attribute_ids`` / ``attribute_scores``, N
    lists each); the name from ``names`` (``{id: name}``), else :data:`UNNAMED_ATTRIBUTE`.
    Without the attribute head (no such keys) every list is empty."""
    n = len(np.asarray(result["class_ids"]).reshape(-1))
    ids = result.get("attribute_ids", [[]] * n)
    scores = result.get("attribute_scores", [[]] * n)
    return [
        [
            {"id": int(a), "name": names.get(int(a)) or UNNAMED_ATTRIBUTE.format(id=int(a)),
             "score": round(float(score), 6)}
            for a, score in zip(ids_k, scores_k, strict=True)
        ]
        for ids_k, scores_k in zip(ids, scores, strict=True)
    ]  # fmt: skip


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Analysis:
    """One image's detections and their descriptors.

    ``result``: the ``detect()`` dict (``rois`` int32 [N, (y1, x1, y2, x2)] px, ``class_ids``
    int32 [N] internal, ``scores`` float32 [N], ``masks`` bool [H, W, N]); ``roi`` float32
    [N, C], ``colour`` float32 [N, 72] and ``shape`` float32 [N, 65]: unit descriptors, and
    ``colour_names`` [N] (:mod:`fashion_mrcnn.app.embedding`). ``photo``: the whole photo's
    ``{"roi": [C], "colour": [72]}`` (its box is the image, its mask every pixel), for matches
    when no garment is found.
    """

    result: dict
    roi: np.ndarray
    colour: np.ndarray
    shape: np.ndarray | None = None
    colour_names: list | None = None
    photo: dict | None = None


class Engine:
    """An inference model with class names, category ids and an RoI-feature head.

    Args:
        weights: checkpoint (``.h5`` / ``.weights.h5``) of a training run.
        config: ``train_config.yaml`` (default: found in the folders above ``weights``).
        classes: ``classes.json`` (default: found the same way); required.
        allow_partial: load the layers that fit and report the rest.
    """

    @staticmethod
    def locate(weights, config=None, classes=None) -> tuple[Path, Path]:
        """``(train_config.yaml, classes.json)`` of a checkpoint, found beside it unless given;
        raises FileNotFoundError / ConfigError at once, before anything is loaded."""
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(f"weights file not found: {weights}")
        config_path = config or find_run_file(weights, "train_config.yaml")
        if config_path is None:
            raise ConfigError(f"no --config given and no train_config.yaml found above {weights}")
        classes_path = classes or find_run_file(weights, "classes.json")
        if classes_path is None:
            raise ConfigError(
                f"no --classes given and no classes.json found above {weights}: the app needs "
                "the class names of the run"
            )
        return Path(config_path), Path(classes_path)

    def __init__(self, weights, config=None, classes=None, allow_partial: bool = False):
        weights = Path(weights)
        config_path, classes_path = self.locate(weights, config, classes)
        categories = json.loads(Path(classes_path).read_text())
        self.model = load_inference_model(
            Config.from_yaml(config_path), weights, allow_partial=allow_partial
        )
        self.config = self.model.config
        self.categories = categories
        self.class_names = class_names_for(categories)
        self.category_ids = category_ids_for(categories)
        self.attribute_names = attribute_names_for(self.config)
        if len(self.class_names) != self.config.NUM_CLASSES:
            raise ConfigError(
                f"{classes_path}: {len(categories)} classes but the config has "
                f"NUM_CLASSES={self.config.NUM_CLASSES} (background included)"
            )
        self.weights = weights.resolve()
        self.weights_sha256 = file_sha256(weights)
        self._graph = self._feature_graph()
        self._roi_align = self.model.keras_model.get_layer("roi_align_mask")

    # ------------------------------------------------------------------ graph
    def _feature_graph(self):
        """The inference graph with P2..P5 as extra outputs (same layers, same weights); with
        the attribute head, its ``mrcnn_attr`` output too."""
        import keras

        km = self.model.keras_model
        outputs = {
            "detections": km.output["detections"],
            "mrcnn_mask": km.output["mrcnn_mask"],
            **{f"p{k}": km.get_layer(f"fpn_p{k}").output for k in LEVELS},
        }
        if "mrcnn_attr" in km.output:
            outputs["mrcnn_attr"] = km.output["mrcnn_attr"]
        return keras.Model(km.input, outputs, name="mask_rcnn_app")

    def _run(self, image: np.ndarray):
        """Mold one image and run the feature graph: (raw outputs, molded shape, window).
        NonFiniteOutputError naming the weights when they give NaN / inf (``model.finite``)."""
        molded, metas, windows = self.model.mold_inputs([image])
        inputs = {"input_image": molded, "input_image_meta": metas}
        raw = predict_finite(self._graph, inputs, self.weights)
        return raw, molded[0].shape, windows[0]

    def _describe(self, image, boxes, masks, raw, molded_shape, window):
        """(roi [N, C], colour [N, 72], shape [N, 65], colour names [N]) for pixel ``boxes``
        [N, 4] / ``masks`` [H, W, N]."""
        n = len(boxes)
        channels = raw["p2"].shape[-1]
        if n == 0:
            return (
                np.zeros((0, channels), np.float32),
                np.zeros((0, embedding.COLOUR_DIM), np.float32),
                np.zeros((0, embedding.SHAPE_DIM), np.float32),
                [],
            )
        roi = self._roi_features(image, boxes, masks, raw, molded_shape, window)
        colour = embedding.colour_descriptors(image, masks, boxes)
        shape = embedding.shape_descriptors(masks, boxes)
        return roi, colour, shape, embedding.colour_names(image, masks, boxes)

    def _roi_features(self, image, boxes, masks, raw, molded_shape, window) -> np.ndarray:
        """RoI features [N, C] of pixel ``boxes`` [N, 4] (N >= 1), pooled from the pyramid
        under ``masks`` [H, W, N]."""
        molded_boxes = boxes_to_molded(boxes, image.shape, molded_shape, window)
        pooled = self._roi_align(
            [molded_boxes[None].astype(np.float32)]
            + [raw[f"p{k}"].astype(np.float32) for k in LEVELS]
        )
        pooled = np.asarray(pooled)[0]  # [N, P, P, C]
        weights = embedding.mask_weights(masks, boxes, pooled.shape[1])
        return embedding.pool_roi_features(pooled, weights)

    # ------------------------------------------------------------------ public
    def analyse(self, image: np.ndarray, min_score: float = 0.0) -> Analysis:
        """Detect garments in one uint8 [H, W, 3] RGB image and describe each.

        ``min_score`` 0 keeps every detection the graph returns (its score floor), so a page can
        filter by score without running the model again. With the attribute head the result
        also holds ``detect``'s attribute entries (``data.attributes.detection_attributes``).
        """
        image = np.asarray(image)
        raw, molded_shape, window = self._run(image)
        rois, class_ids, scores, masks = self.model.unmold_detections(
            raw["detections"][0],
            raw["mrcnn_mask"][0],
            image.shape,
            molded_shape,
            window,
            min_confidence=min_score,
        )
        result = {"rois": rois, "class_ids": class_ids, "scores": scores, "masks": masks}
        if "mrcnn_attr" in raw:  # the head's outputs of the kept detections, as detect does
            frame = (raw["detections"][0], image.shape, molded_shape, window, min_score)
            attrs = raw["mrcnn_attr"][0][kept_detection_rows(*frame)]
            result.update(detection_attributes(attrs, class_ids, self.config))
        height, width = image.shape[:2]
        whole = np.array([[0, 0, height, width]], np.int32)  # its RoI and colours only
        every = np.ones((height, width, 1), bool)
        photo = {
            "roi": self._roi_features(image, whole, every, raw, molded_shape, window)[0],
            "colour": embedding.colour_descriptors(image, every, whole)[0],
        }
        return Analysis(
            result, *self._describe(image, rois, masks, raw, molded_shape, window), photo=photo
        )

    def describe(self, image: np.ndarray, boxes: np.ndarray, masks: np.ndarray):
        """Descriptors of given instances (a catalogue's labels): ``(roi [N, C], colour
        [N, 72], shape [N, 65], colour names [N])``. boxes: int [N, (y1, x1, y2, x2)] px;
        masks: bool [H, W, N]."""
        image = np.asarray(image)
        raw, molded_shape, window = self._run(image)
        return self._describe(image, boxes, masks, raw, molded_shape, window)

    def warm_up(self) -> None:
        """Run a blank image through the graph and the RoI features once (this traces the
        graph), so that the first photo costs what the others do."""
        side = int(self.config.IMAGE_MAX_DIM)
        image = np.full((side, side, 3), 128, np.uint8)
        masks = np.zeros((side, side, 1), bool)
        masks[side // 4 : 3 * side // 4, side // 4 : 3 * side // 4] = True
        self.analyse(image)
        self.describe(
            image, np.array([[side // 4, side // 4, 3 * side // 4, 3 * side // 4]]), masks
        )

    def record(self, name: str, image_shape, result: dict) -> dict:
        """The ``predict`` JSONL record of one analysed image (``image`` = ``name``; with the
        config's ATTRIBUTE_NAMES, ``attribute_names`` per instance, as ``predict`` writes)."""
        return detection_to_record(
            name, image_shape, result, self.class_names, category_ids=self.category_ids,
            attributes=self.config.attribute_name_map() or None,
        )  # fmt: skip

    def summary(self) -> dict:
        """What the page shows about the model."""
        return {
            "weights": self.weights.name,
            "backbone": str(self.config.BACKBONE),
            "image_size": int(self.config.IMAGE_MAX_DIM),
            "classes": self.class_names[1:],
            "default_min_score": float(self.config.DETECTION_MIN_CONFIDENCE),
        }
