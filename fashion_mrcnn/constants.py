"""The names and layouts every part of the package shares, each defined here once.

Plain Python values with no imports (no TensorFlow, no numpy), so the configuration, the data
layer, the engine and the workflow can all read them without cost or import cycles. A module that
needs one of these imports it from here; nothing else spells it out again.
"""

# --- losses ------------------------------------------------------------------------------------
#: Matterport's five loss names, in Matterport's order: the keys of ``Config.LOSS_WEIGHTS``, the
#: trainer's metric names and the columns of the training logs.
LOSS_NAMES = (
    "rpn_class_loss",
    "rpn_bbox_loss",
    "mrcnn_class_loss",
    "mrcnn_bbox_loss",
    "mrcnn_mask_loss",
)
#: The attribute head's loss (Attribute-Mask R-CNN, Fashionpedia): a key of
#: ``Config.LOSS_WEIGHTS`` (optional there: a configuration written before it gets weight 1), and a
#: metric / log column only for models with the head (``NUM_ATTRIBUTES > 0``).
ATTRIBUTE_LOSS = "mrcnn_attr_loss"
#: Every key ``Config.LOSS_WEIGHTS`` may hold.
LOSS_WEIGHT_NAMES = LOSS_NAMES + (ATTRIBUTE_LOSS,)

# --- configuration choices ---------------------------------------------------------------------
#: ``Config.BACKBONE`` values (a callable is accepted too).
BACKBONES = ("resnet50", "resnet101", "mobilenetv2", "efficientnet-lite0")
#: ``Config.NORM`` values: frozen BatchNorm, trainable BatchNorm, GroupNorm.
NORMS = ("frozen_bn", "bn", "gn")
#: ``Config.IMAGE_RESIZE_MODE`` values (``ops.image.resize_image`` modes).
RESIZE_MODES = ("square", "pad64", "crop", "none")
#: ``Config.LR_SCHEDULE`` values (``model.schedule.LearningRateSchedule`` kinds).
LR_SCHEDULES = ("constant", "cosine", "step")
#: ``Config.ROI_ALIGN`` values (``layers.PyramidROIAlign`` methods): ``tf.image.crop_and_resize``
#: per FPN level, or one gather over all levels that XLA compiles (``ops.roi_align``).
ROI_ALIGN_METHODS = ("crop_and_resize", "xla")
#: ``Config.RECIPE`` values (``presets.RECIPES``): from scratch, or fine-tuning from weights.
RECIPE_NAMES = ("scratch", "finetune")
#: Training distribution strategies by name (``model.distribute``; ``train --strategy``):
#: ``auto`` picks ``mirrored`` with more than one GPU, else ``one``.
STRATEGY_NAMES = ("auto", "one", "mirrored", "multiworker", "tpu")

# --- image meta --------------------------------------------------------------------------------
#: The image meta row (one float32 row per image, Matterport's layout): field -> (first column,
#: column after the last). One-column fields are scalars. The ``NUM_CLASSES`` active class ids
#: follow from column ``IMAGE_META_FIXED_SIZE`` on. Read a row with ``ops.image.parse_image_meta``
#: (numpy) or ``parse_image_meta_tf`` (graph); write one with ``ops.image.compose_image_meta``.
IMAGE_META_LAYOUT = {
    "image_id": (0, 1),
    "original_image_shape": (1, 4),  # (H, W, C) before resizing
    "image_shape": (4, 7),  # (H, W, C) of the molded image
    "window": (7, 11),  # (y1, x1, y2, x2) pixels of the image inside the molded one
    "scale": (11, 12),  # resize scale
}
#: Columns before ``active_class_ids``: ``IMAGE_META_SIZE = IMAGE_META_FIXED_SIZE + NUM_CLASSES``.
IMAGE_META_FIXED_SIZE = 12

# --- checkpoints (Matterport's log-dir and file names) -----------------------------------------
#: A training run's log dir is ``<name><time>`` with the time in this ``strftime`` format.
LOG_DIR_TIME_FORMAT = "%Y%m%dT%H%M"
#: Checkpoint file name inside a log dir (``str.format`` fields ``name`` and ``epoch``).
CHECKPOINT_NAME = "mask_rcnn_{name}_{epoch:04d}.h5"
#: The glob that finds checkpoints in a log dir.
CHECKPOINT_GLOB = "mask_rcnn*.h5"
#: Regex of a checkpoint file name (also a Keras 3 ``.weights.h5`` of that name); group ``epoch``.
CHECKPOINT_NAME_RE = r"mask_rcnn_[\w-]+_(?P<epoch>\d{4})\.(?:weights\.)?h5"
#: Regex of a checkpoint path inside its log dir; groups ``time`` and ``epoch``.
CHECKPOINT_PATH_RE = r".*[/\\][\w-]+(?P<time>\d{8}T\d{4})[/\\]" + CHECKPOINT_NAME_RE + "$"
#: The per-epoch CSV log (Keras ``CSVLogger``: a 0-based ``epoch`` column, ``loss``, ...) in a
#: run's log dir.
TRAINING_LOG = "training.csv"

# --- matching ----------------------------------------------------------------------------------
#: A training anchor or ROI touching a crowd box with at least this IoU is never a negative.
CROWD_IOU = 0.001
#: The COCO IoU thresholds 0.50, 0.55, ..., 0.95 (the Kaggle metric and ``compute_ap_range``).
COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
#: What a Kaggle submission does with attributes (``submission.py``; scored side by side by
#: ``evaluation.kaggle_report``): keep ``10_1_2``, strip to ``10``, or strip and drop the
#: attribute-bearing categories.
ATTRIBUTE_POLICIES = ("keep", "strip", "drop_attribute_categories")
#: Overlapping masks of one image (``inference.overlaps.remove_overlaps``, the submission writer,
#: the post-processing): ``all`` made disjoint, only within a ``class``, or ``none``.
OVERLAP_POLICIES = ("all", "class", "none")
#: The Kaggle metrics the package scores (``evaluation.kaggle_report``, ``tune-postprocess``):
#: iMaterialist 2019 and FGVC7 2020.
KAGGLE_METRICS = ("2019", "2020")

# --- files -------------------------------------------------------------------------------------
#: Image file suffixes the package reads (lower case; matching ignores case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
