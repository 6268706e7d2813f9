"""Model and training configuration with Matterport's ``mrcnn`` attribute names and defaults.

Override Matterport style, by subclassing (``class MyConfig(Config): NAME = "mine"``), or with
keyword arguments, ``Config(NAME="mine", NUM_CLASSES=47)``. Derived attributes
(``BATCH_SIZE``, ``IMAGE_SHAPE``, ``IMAGE_META_SIZE``) are computed in ``__init__``; the
configuration is validated there too, so a bad value fails before any model is built.

``to_yaml`` / ``from_yaml`` round-trip every upper-case attribute; ``Config.preset(name)``
builds a configuration from a named size preset ("cpu-smoke", "cpu-small", "colab-t4", "full";
see :mod:`fashion_mrcnn.presets`). The allowed backbones, norms, resize modes, LR schedules,
RoI Align methods and loss names come from :mod:`fashion_mrcnn.constants`.

Over 400 lines: one class, Matterport's ~90 settings each with its comment, and the validation
of each; splitting the checks from the settings they check would put one fact in two places.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fashion_mrcnn.constants import (
    ATTRIBUTE_LOSS,
    BACKBONES,
    IMAGE_META_FIXED_SIZE,
    LOSS_WEIGHT_NAMES,
    LR_SCHEDULES,
    NORMS,
    RECIPE_NAMES,
    RESIZE_MODES,
    ROI_ALIGN_METHODS,
)
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model.precision import check_setting
from fashion_mrcnn.presets import get_preset, recipe_settings

# Computed in ``__init__``; never read back from kwargs or YAML.
DERIVED = ("BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE")


class Config:
    """Base configuration. Every upper-case class attribute is a setting."""

    # --- Matterport names and defaults -----------------------------------------------------
    NAME: str | None = None
    GPU_COUNT = 1
    IMAGES_PER_GPU = 2
    STEPS_PER_EPOCH = 1000
    VALIDATION_STEPS = 50
    BACKBONE = "resnet101"
    COMPUTE_BACKBONE_SHAPE = None
    BACKBONE_STRIDES = [4, 8, 16, 32, 64]
    FPN_CLASSIF_FC_LAYERS_SIZE = 1024
    TOP_DOWN_PYRAMID_SIZE = 256
    NUM_CLASSES = 1  # including background
    RPN_ANCHOR_SCALES = (32, 64, 128, 256, 512)
    RPN_ANCHOR_RATIOS = [0.5, 1, 2]
    RPN_ANCHOR_STRIDE = 1
    RPN_CONV_CHANNELS = 512  # the RPN's shared 3x3 conv: Matterport's 512; presets: fewer
    RPN_NMS_THRESHOLD = 0.7
    RPN_TRAIN_ANCHORS_PER_IMAGE = 256
    PRE_NMS_LIMIT = 6000
    POST_NMS_ROIS_TRAINING = 2000
    POST_NMS_ROIS_INFERENCE = 1000
    USE_MINI_MASK = True
    MINI_MASK_SHAPE = (56, 56)
    IMAGE_RESIZE_MODE = "square"
    IMAGE_MIN_DIM = 800
    IMAGE_MAX_DIM = 1024
    IMAGE_MIN_SCALE = 0
    IMAGE_CHANNEL_COUNT = 3
    MEAN_PIXEL = np.array([123.7, 116.8, 103.9])
    TRAIN_ROIS_PER_IMAGE = 200
    ROI_POSITIVE_RATIO = 0.33
    POOL_SIZE = 7
    MASK_POOL_SIZE = 14
    MASK_SHAPE = [28, 28]
    MAX_GT_INSTANCES = 100
    RPN_BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])
    BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])
    DETECTION_MAX_INSTANCES = 100
    DETECTION_MIN_CONFIDENCE = 0.7
    DETECTION_NMS_THRESHOLD = 0.3
    LEARNING_RATE = 0.001
    LEARNING_MOMENTUM = 0.9
    WEIGHT_DECAY = 0.0001
    LOSS_WEIGHTS = {k: 1.0 for k in LOSS_WEIGHT_NAMES}
    USE_RPN_ROIS = True
    # False: frozen BN (Matterport default); None: trainable BN; True: BN in training mode
    # everywhere. Kept for compatibility and mapped onto NORM in ``__init__``.
    TRAIN_BN = False
    GRADIENT_CLIP_NORM = 5.0

    # --- fashion-mrcnn additions -----------------------------------------------------------
    NORM = "frozen_bn"  # "frozen_bn" | "bn" (trainable BatchNorm) | "gn" (GroupNorm)
    MOBILENET_ALPHA = 1.0
    MASK_THRESHOLD = 0.5
    MIXED_PRECISION = False  # | "float16" | "bfloat16" | "auto" (model.precision; True = "float16")
    LR_SCHEDULE = "constant"  # "constant" | "cosine" | "step"
    LR_WARMUP_STEPS = 0
    RECIPE = "finetune"  # | "scratch": presets.RECIPES (its LR settings applied by preset())
    MASK_HEAD_CHANNELS = 256
    BOX_HEAD_CONV = True  # True: Matterport's 7x7 / 1x1 conv box head; False: two FC layers
    # PyramidROIAlign's crop: "crop_and_resize" (fastest uncompiled on CPU) | "xla" (one gather
    # over all levels: XLA compiles it, as needed under jit_compile or on a TPU; ops.roi_align)
    ROI_ALIGN = "crop_and_resize"
    # XLA-compile the training step and detect() (tf.function(jit_compile=True)). The graph is
    # then built in fixed shapes: the mask head runs on every positive slot / detection row and
    # zeroes the others (not on the positives only), the detection layer's NMS is per class
    # over all classes; needs ROI_ALIGN = "xla" (CropAndResize has no XLA kernel).
    JIT_COMPILE = False
    NUM_WORKERS = None  # tf.data parallelism; None = AUTOTUNE
    BACKBONE_WEIGHTS = None  # None | "imagenet" | path to a weights file
    # Attribute head (Attribute-Mask R-CNN, Fashionpedia): multi-label sigmoid outputs on the box
    # head's shared features. 0 = no head (the graph is Matterport's). ATTRIBUTE_IDS: the source
    # attribute id of each head output (the vocabulary; empty = output k is attribute id k);
    # ATTRIBUTE_CLASS_IDS: the internal class ids whose instances carry attributes (only their
    # positive RoIs count in the loss, only their detections get attributes; empty = all).
    # ATTRIBUTE_NAMES: the name of each head output, parallel to ``attribute_ids()`` (from the
    # training data's attribute list; empty = unknown: predict, the page and the export then
    # give ids only, or "attribute N"). ``data.attributes.attribute_settings(dataset)`` derives
    # all four from a training set.
    NUM_ATTRIBUTES = 0
    ATTRIBUTE_IDS: list = []
    ATTRIBUTE_CLASS_IDS: list = []
    ATTRIBUTE_NAMES: list = []
    DETECTION_ATTRIBUTE_THRESHOLD = 0.5  # detect() reports attributes scoring at least this

    def __init__(self, **overrides: Any) -> None:
        settable = set(self.setting_names())
        for key, value in overrides.items():
            if key in DERIVED:
                raise ConfigError(f"{key} is derived from other settings and cannot be set")
            if key not in settable:
                raise ConfigError(
                    f"unknown configuration attribute {key!r} "
                    f"(settings are upper-case Matterport names such as NUM_CLASSES)"
                )
            setattr(self, key, value)
        self._reconcile_norm()
        if isinstance(self.LOSS_WEIGHTS, dict) and ATTRIBUTE_LOSS not in self.LOSS_WEIGHTS:
            # a configuration written before the attribute head: its loss gets the default weight
            self.LOSS_WEIGHTS = {**self.LOSS_WEIGHTS, ATTRIBUTE_LOSS: 1.0}
        self.BATCH_SIZE = self.IMAGES_PER_GPU * self.GPU_COUNT
        if self.IMAGE_RESIZE_MODE == "crop":
            side = self.IMAGE_MIN_DIM
        else:
            side = self.IMAGE_MAX_DIM
        self.IMAGE_SHAPE = np.array([side, side, self.IMAGE_CHANNEL_COUNT])
        # constants.IMAGE_META_LAYOUT, then one active-class flag per class
        self.IMAGE_META_SIZE = IMAGE_META_FIXED_SIZE + self.NUM_CLASSES
        self.validate()

    def _reconcile_norm(self) -> None:
        """Map Matterport's TRAIN_BN onto NORM (NORM wins unless it is left at the default)."""
        if self.NORM == "frozen_bn" and self.TRAIN_BN is not False:
            self.NORM = "bn"
        if self.NORM == "frozen_bn":
            self.TRAIN_BN = False
        elif self.TRAIN_BN is False:
            self.TRAIN_BN = None

    # --- introspection ---------------------------------------------------------------------
    @classmethod
    def setting_names(cls) -> list[str]:
        """Upper-case, non-callable attribute names defined on the class (not derived)."""
        names = []
        for name in dir(cls):
            if name.startswith("_") or not name.isupper() or name in DERIVED:
                continue
            if not callable(getattr(cls, name)):
                names.append(name)
        return names

    def to_dict(self) -> dict[str, Any]:
        """All upper-case attributes (settings and derived) as plain Python values."""
        out = {}
        for name in sorted(set(self.setting_names()) | set(DERIVED)):
            out[name] = _plain(getattr(self, name))
        return out

    def display(self) -> None:
        """Print every upper-case attribute, one per line."""
        print("\nConfigurations:")
        for name, value in self.to_dict().items():
            print(f"{name:30} {value}")
        print("\n")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(NAME={self.NAME!r}, NUM_CLASSES={self.NUM_CLASSES})"

    # --- construction helpers --------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """Build from ``to_dict`` output: derived keys are ignored and recomputed; list values
        are converted back to the type of the class default (tuple, numpy array)."""
        kwargs = {}
        for key, value in values.items():
            if key in DERIVED:
                continue
            default = getattr(cls, key, None)
            if isinstance(default, np.ndarray) and value is not None:
                value = np.array(value, dtype=default.dtype)
            elif isinstance(default, tuple) and isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)

    def to_yaml(self, path: str | Path) -> Path:
        """Write every upper-case attribute to a YAML file; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# fashion-mrcnn {type(self).__name__}; derived values are recomputed on load\n"
        path.write_text(header + yaml.safe_dump(self.to_dict(), sort_keys=True))
        return path

    @classmethod
    def from_yaml(cls, path: str | Path) -> Config:
        """Read a YAML file written by ``to_yaml`` (or a hand-written subset of settings)."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(
                f"{path}: expected a mapping of settings, got {type(values).__name__}"
            )
        try:
            return cls.from_dict(values)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    # settings a preset may not change on this class (inference configs keep batch size 1)
    _PRESET_KEEP: tuple[str, ...] = ()

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Config:
        """This class with the recipe's LR settings (``RECIPE`` of ``overrides`` or the preset),
        then a named preset (but the class's ``_PRESET_KEEP``), then ``overrides``. A preset's
        own learning-rate settings belong to its recipe: an override that picks another recipe
        gets that recipe's settings instead."""
        values = {k: v for k, v in get_preset(name).items() if k not in cls._PRESET_KEEP}
        recipe = overrides.get("RECIPE", values.get("RECIPE", cls.RECIPE))
        settings = recipe_settings(recipe)
        if recipe != values.get("RECIPE", cls.RECIPE):
            values = {k: v for k, v in values.items() if k not in settings}
        return cls(**{**settings, **values, **overrides})

    def replace(self, **overrides: Any) -> Config:
        """A copy of this configuration (same class) with some settings changed."""
        values = {k: getattr(self, k) for k in self.setting_names()}
        # NORM and TRAIN_BN describe one setting: when only one is changed, let it decide.
        if "NORM" in overrides and "TRAIN_BN" not in overrides:
            values.pop("TRAIN_BN")
        elif "TRAIN_BN" in overrides and "NORM" not in overrides:
            values.pop("NORM")
        values.update(overrides)
        return type(self)(**values)

    # --- validation --------------------------------------------------------------------------
    def validate(self, num_classes: int | None = None) -> Config:
        """Raise ConfigError naming the first inconsistent setting; returns self.

        ``num_classes``: the prepared dataset's ``num_classes`` (background included), checked
        against NUM_CLASSES when given.
        """
        if num_classes is not None and int(num_classes) != self.NUM_CLASSES:
            raise ConfigError(
                f"NUM_CLASSES is {self.NUM_CLASSES} but the dataset has {num_classes} classes "
                f"(background included); set NUM_CLASSES = {num_classes}"
            )
        for name in (
            "GPU_COUNT",
            "IMAGES_PER_GPU",
            "NUM_CLASSES",
            "IMAGE_MIN_DIM",
            "IMAGE_MAX_DIM",
            "TRAIN_ROIS_PER_IMAGE",
            "RPN_TRAIN_ANCHORS_PER_IMAGE",
            "PRE_NMS_LIMIT",
            "POST_NMS_ROIS_TRAINING",
            "POST_NMS_ROIS_INFERENCE",
            "MAX_GT_INSTANCES",
            "DETECTION_MAX_INSTANCES",
            "POOL_SIZE",
            "MASK_POOL_SIZE",
            "RPN_ANCHOR_STRIDE",
            "MASK_HEAD_CHANNELS",
            "TOP_DOWN_PYRAMID_SIZE",
            "RPN_CONV_CHANNELS",
            "FPN_CLASSIF_FC_LAYERS_SIZE",
        ):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self._validate_choices()
        self._validate_image_size()
        self._validate_ranges()
        if len(self.RPN_ANCHOR_SCALES) != len(self.BACKBONE_STRIDES):
            raise ConfigError(
                f"RPN_ANCHOR_SCALES has {len(self.RPN_ANCHOR_SCALES)} scales but BACKBONE_STRIDES "
                f"has {len(self.BACKBONE_STRIDES)} levels; give one anchor scale per level"
            )
        if list(self.MASK_SHAPE) != [2 * self.MASK_POOL_SIZE] * 2:
            raise ConfigError(
                f"MASK_SHAPE {list(self.MASK_SHAPE)} must be twice MASK_POOL_SIZE "
                f"({self.MASK_POOL_SIZE}) in each side: the mask head upsamples once by 2"
            )
        if not isinstance(self.LOSS_WEIGHTS, dict) or set(self.LOSS_WEIGHTS) != set(
            LOSS_WEIGHT_NAMES
        ):
            keys = sorted(self.LOSS_WEIGHTS) if isinstance(self.LOSS_WEIGHTS, dict) else None
            raise ConfigError(
                f"LOSS_WEIGHTS keys must be exactly {list(LOSS_WEIGHT_NAMES)} "
                f"({ATTRIBUTE_LOSS} may be left out: weight 1), got {keys}"
            )
        for key, weight in self.LOSS_WEIGHTS.items():
            if not isinstance(weight, numbers.Real) or weight < 0:
                raise ConfigError(f"LOSS_WEIGHTS[{key!r}] must be a number >= 0, got {weight!r}")
        self._validate_attributes()
        for name in ("RPN_BBOX_STD_DEV", "BBOX_STD_DEV", "MEAN_PIXEL"):
            size = 4 if name != "MEAN_PIXEL" else self.IMAGE_CHANNEL_COUNT
            if np.shape(getattr(self, name)) != (size,):
                raise ConfigError(f"{name} must have {size} values, got {getattr(self, name)!r}")
        return self

    def _validate_attributes(self) -> None:
        n = self.NUM_ATTRIBUTES
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"NUM_ATTRIBUTES must be an integer >= 0 (0 = no head), got {n!r}")
        for name in ("ATTRIBUTE_IDS", "ATTRIBUTE_CLASS_IDS"):
            ids = getattr(self, name)
            if not isinstance(ids, (list, tuple)) or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in ids
            ):
                raise ConfigError(f"{name} must be a list of integer ids, got {ids!r}")
            if len(set(int(v) for v in ids)) != len(ids):
                raise ConfigError(f"{name} repeats an id: {list(ids)}")
        if self.ATTRIBUTE_IDS and len(self.ATTRIBUTE_IDS) != n:
            raise ConfigError(
                f"ATTRIBUTE_IDS has {len(self.ATTRIBUTE_IDS)} ids but NUM_ATTRIBUTES is {n}: give "
                "one source attribute id per head output (or none: output k is attribute id k)"
            )
        names = self.ATTRIBUTE_NAMES
        if not isinstance(names, (list, tuple)) or not all(
            isinstance(v, str) and v.strip() for v in names
        ):
            raise ConfigError(f"ATTRIBUTE_NAMES must be a list of non-empty names, got {names!r}")
        if names and len(names) != n:
            raise ConfigError(
                f"ATTRIBUTE_NAMES has {len(names)} names but NUM_ATTRIBUTES is {n}: give one "
                "name per head output, in ATTRIBUTE_IDS order (or none: the names are unknown)"
            )
        bad = [int(c) for c in self.ATTRIBUTE_CLASS_IDS if not 0 < int(c) < self.NUM_CLASSES]
        if bad:
            raise ConfigError(
                f"ATTRIBUTE_CLASS_IDS {bad} are not internal class ids 1..{self.NUM_CLASSES - 1}"
            )
        t = self.DETECTION_ATTRIBUTE_THRESHOLD
        if not isinstance(t, numbers.Real) or not 0 <= t <= 1:
            raise ConfigError(f"DETECTION_ATTRIBUTE_THRESHOLD must be in [0, 1], got {t!r}")

    def attribute_ids(self) -> list[int]:
        """The source attribute id of each attribute head output ``[NUM_ATTRIBUTES]`` (the
        vocabulary: ATTRIBUTE_IDS, or ``0 .. NUM_ATTRIBUTES - 1`` when it is empty)."""
        if self.ATTRIBUTE_IDS:
            return [int(v) for v in self.ATTRIBUTE_IDS]
        return list(range(int(self.NUM_ATTRIBUTES)))

    def attribute_name_map(self) -> dict[int, str]:
        """``{source attribute id: name}`` of the head's outputs (``attribute_ids()`` zipped with
        ATTRIBUTE_NAMES); empty when the names are unknown (ATTRIBUTE_NAMES empty)."""
        if not self.ATTRIBUTE_NAMES:
            return {}
        return dict(zip(self.attribute_ids(), (str(v) for v in self.ATTRIBUTE_NAMES), strict=True))

    def _validate_choices(self) -> None:
        if not callable(self.BACKBONE) and self.BACKBONE not in BACKBONES:
            raise ConfigError(f"BACKBONE must be one of {BACKBONES}, got {self.BACKBONE!r}")
        if self.NORM not in NORMS:
            raise ConfigError(f"NORM must be one of {NORMS}, got {self.NORM!r}")
        if self.IMAGE_RESIZE_MODE not in RESIZE_MODES:
            raise ConfigError(
                f"IMAGE_RESIZE_MODE must be one of {RESIZE_MODES}, got {self.IMAGE_RESIZE_MODE!r}"
            )
        for name, choices in (
            ("RECIPE", RECIPE_NAMES),
            ("LR_SCHEDULE", LR_SCHEDULES),
            ("ROI_ALIGN", ROI_ALIGN_METHODS),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.JIT_COMPILE not in (True, False):
            raise ConfigError(f"JIT_COMPILE must be True or False, got {self.JIT_COMPILE!r}")
        if self.JIT_COMPILE and self.ROI_ALIGN != "xla":
            raise ConfigError(
                f"JIT_COMPILE needs ROI_ALIGN = 'xla' (CropAndResize has no XLA kernel), got "
                f"{self.ROI_ALIGN!r}: set both (train --jit-compile does)"
            )
        check_setting(self.MIXED_PRECISION)  # False, "float16", "bfloat16", "auto" (True = float16)
        if self.BACKBONE_WEIGHTS is not None and not isinstance(self.BACKBONE_WEIGHTS, str):
            raise ConfigError(
                f"BACKBONE_WEIGHTS must be None, 'imagenet' or a path, got {self.BACKBONE_WEIGHTS!r}"
            )

    def _validate_image_size(self) -> None:
        mode = self.IMAGE_RESIZE_MODE
        if mode in ("square", "none"):
            name, side = "IMAGE_MAX_DIM", self.IMAGE_MAX_DIM
        else:  # "pad64" pads to multiples of 64 from min_dim; "crop" crops min_dim squares
            name, side = "IMAGE_MIN_DIM", self.IMAGE_MIN_DIM
        if side % 64:
            lower, upper = side // 64 * 64, (side // 64 + 1) * 64
            raise ConfigError(
                f"{name} = {side} is not divisible by 64 (needed by IMAGE_RESIZE_MODE {mode!r}: "
                f"the image is downscaled 6 times by 2); use {lower or upper} or {upper}"
            )
        if mode == "square" and self.IMAGE_MIN_DIM > self.IMAGE_MAX_DIM:
            raise ConfigError(
                f"IMAGE_MIN_DIM ({self.IMAGE_MIN_DIM}) exceeds IMAGE_MAX_DIM ({self.IMAGE_MAX_DIM})"
            )

    def _validate_ranges(self) -> None:
        for name in (
            "RPN_NMS_THRESHOLD",
            "DETECTION_MIN_CONFIDENCE",
            "DETECTION_NMS_THRESHOLD",
            "MASK_THRESHOLD",
            "ROI_POSITIVE_RATIO",
        ):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0 <= value <= 1:
                raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}")
        for name in ("LEARNING_RATE", "MOBILENET_ALPHA"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or value <= 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        for name in (
            "LEARNING_MOMENTUM",
            "WEIGHT_DECAY",
            "IMAGE_MIN_SCALE",
            "LR_WARMUP_STEPS",
            "STEPS_PER_EPOCH",
            "VALIDATION_STEPS",
        ):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
        clip = self.GRADIENT_CLIP_NORM
        if clip is not None and (not isinstance(clip, numbers.Real) or clip <= 0):
            raise ConfigError(f"GRADIENT_CLIP_NORM must be None or > 0, got {clip!r}")
        if self.NUM_WORKERS is not None and (
            not isinstance(self.NUM_WORKERS, numbers.Integral) or self.NUM_WORKERS < 1
        ):
            raise ConfigError(
                f"NUM_WORKERS must be None (AUTOTUNE) or >= 1, got {self.NUM_WORKERS!r}"
            )


def _plain(value: Any) -> Any:
    """numpy arrays / scalars and tuples -> plain lists and numbers (YAML-safe)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if callable(value):
        return getattr(value, "__name__", repr(value))
    return value


class FashionConfig(Config):
    """iMaterialist / Fashionpedia: 46 categories + background, 512 px images."""

    NAME = "fashion"
    NUM_CLASSES = 1 + 46
    IMAGE_MIN_DIM = 512
    IMAGE_MAX_DIM = 512
    BACKBONE = "resnet50"
    RPN_ANCHOR_SCALES = (16, 32, 64, 128, 256)
    DETECTION_MIN_CONFIDENCE = 0.7
    DETECTION_MAX_INSTANCES = 50


class FashionInferenceConfig(FashionConfig):
    """FashionConfig for ``detect``: one image at a time (presets keep that)."""

    GPU_COUNT = 1
    IMAGES_PER_GPU = 1
    _PRESET_KEEP = ("GPU_COUNT", "IMAGES_PER_GPU")
