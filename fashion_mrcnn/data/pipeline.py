"""Training inputs: one image's ground truth (numpy) and the ``tf.data`` pipeline of batches.

:func:`load_image_gt` loads, augments, resizes and packs one image's targets (numpy, Matterport
semantics); :func:`make_dataset` maps it over the image ids in parallel with
``tf.numpy_function`` (no Python generators, no multiprocessing), adds the RPN targets, pads to
MAX_GT_INSTANCES, batches and prefetches. Images without instances are kept: their RPN loss comes
from negative anchors and their box / mask losses are exactly 0.

A batch is a 1-tuple ``(inputs,)`` with ``inputs`` a dict keyed by the training model's input
names (shapes per image, B = BATCH_SIZE in front):

- ``input_image`` float32 [H, W, 3]: molded image (RGB minus MEAN_PIXEL), H, W = IMAGE_SHAPE[:2]
- ``input_image_meta`` float32 [IMAGE_META_SIZE] (``ops.image.compose_image_meta``)
- ``input_rpn_match`` int32 [A]: 1 positive, -1 negative, 0 neutral anchor
- ``input_rpn_bbox`` float32 [RPN_TRAIN_ANCHORS_PER_IMAGE, 4]: deltas / RPN_BBOX_STD_DEV
- ``input_gt_class_ids`` int32 [G]: internal class ids, 0 = padding (G = MAX_GT_INSTANCES)
- ``input_gt_boxes`` float32 [G, 4]: normalised (y1, x1, y2, x2) (``ops.boxes.norm_boxes``)
- ``input_gt_masks`` uint8 [mh, mw, G]: 0/1; mini masks (MINI_MASK_SHAPE) when USE_MINI_MASK,
  else full-size [H, W, G]
- ``input_gt_mask_valid`` float32 [G]: 1 when the instance has a real mask, 0 for box-only

With the attribute head (``NUM_ATTRIBUTES`` A > 0; :func:`input_names`), two more:

- ``input_gt_attributes`` uint8 [G, A]: multi-hot of each instance's attributes over the head's
  outputs (``data.attributes.multi_hot`` with ``Config.attribute_ids()``)
- ``input_gt_attribute_valid`` float32 [G]: 1 when the instance's class carries attributes
  (``ATTRIBUTE_CLASS_IDS``; every class when it is empty), else 0 (no attribute loss)
"""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.errors import FashionDataError
from fashion_mrcnn.ops.anchors import get_anchors_for_config
from fashion_mrcnn.ops.boxes import extract_bboxes, norm_boxes
from fashion_mrcnn.ops.image import compose_image_meta, mold_image
from fashion_mrcnn.ops.masks import minimize_mask
from fashion_mrcnn.ops.transform import resize_image_and_masks

INPUT_NAMES = (
    "input_image",
    "input_image_meta",
    "input_rpn_match",
    "input_rpn_bbox",
    "input_gt_class_ids",
    "input_gt_boxes",
    "input_gt_masks",
    "input_gt_mask_valid",
)
#: The inputs added by the attribute head (``NUM_ATTRIBUTES > 0``).
ATTRIBUTE_INPUT_NAMES = ("input_gt_attributes", "input_gt_attribute_valid")


def input_names(config) -> tuple[str, ...]:
    """The batch keys for ``config``: INPUT_NAMES, then ATTRIBUTE_INPUT_NAMES with the head."""
    return INPUT_NAMES + (ATTRIBUTE_INPUT_NAMES if int(config.NUM_ATTRIBUTES) > 0 else ())


def _load_instances(dataset, image_id):
    """(masks bool [H, W, N], class_ids int32 [N], box_only bool [N], attribute id lists [N])
    from a Dataset (no attribute for a dataset without ``load_instances`` or without them)."""
    if hasattr(dataset, "load_instances"):
        inst = dataset.load_instances(image_id)
        masks, class_ids = inst["masks"], inst["class_ids"]
        box_only = np.asarray(inst.get("box_only", np.zeros(len(class_ids), bool)), dtype=bool)
        attrs = inst.get("attribute_ids") or [[] for _ in range(len(class_ids))]
    else:
        masks, class_ids = dataset.load_mask(image_id)
        box_only = np.zeros(len(class_ids), dtype=bool)
        attrs = [[] for _ in range(len(class_ids))]
    if len(attrs) != len(class_ids):
        raise FashionDataError(
            f"image {image_id}: {len(attrs)} attribute lists for {len(class_ids)} instances"
        )
    masks = np.asarray(masks, dtype=bool)
    return masks, np.asarray(class_ids, dtype=np.int32), box_only, [list(a) for a in attrs]


def _active_class_ids(dataset, image_id, num_classes):
    """int32 [NUM_CLASSES]: 1 for classes of the image's source (Matterport), else all 1."""
    active = np.zeros(num_classes, dtype=np.int32)
    info = dataset.image_info[image_id] if hasattr(dataset, "image_info") else {}
    source_ids = getattr(dataset, "source_class_ids", {}).get(info.get("source"))
    if source_ids is None:
        active[:] = 1
    else:
        active[np.asarray(source_ids, dtype=int)] = 1
    return active


def load_image_gt(dataset, config, image_id, augmentation=None, rng=None):
    """Load and prepare one image's ground truth.

    Steps: ``load_image`` / ``load_instances`` (or ``load_mask``) -> optional ``augmentation``
    on the original image (DESIGN.md contract ``(image, masks, rng) -> (image, masks, keep)``;
    class ids and box-only flags follow ``keep``) -> image and masks into the molded frame
    (``ops.transform.resize_image_and_masks``) -> boxes from masks -> drop instances left empty
    -> subsample to MAX_GT_INSTANCES -> mini masks.

    Returns ``(image, image_meta, class_ids, boxes, masks, mask_valid)``: image uint8 [H, W, 3]
    (resized, not molded); image_meta float32 [IMAGE_META_SIZE]; class_ids int32 [N]; boxes
    int32 [N, (y1, x1, y2, x2)] pixels of the resized image, y2/x2 exclusive; masks bool
    [H, W, N] or [mh, mw, N] mini masks (USE_MINI_MASK); mask_valid float32 [N] (0 = box-only).
    """
    return _prepare_gt(dataset, config, image_id, augmentation, rng)[:6]


def _prepare_gt(dataset, config, image_id, augmentation=None, rng=None):
    """:func:`load_image_gt`'s six values, then the attribute id lists [N] of the instances
    kept (in the same order)."""
    rng = np.random.default_rng() if rng is None else rng
    image = np.asarray(dataset.load_image(image_id))
    masks, class_ids, box_only, attrs = _load_instances(dataset, image_id)
    index = np.arange(len(class_ids))  # each kept instance's position in the loaded lists
    if image.ndim != 3 or image.shape[2] != 3:
        raise FashionDataError(f"image {image_id}: expected RGB [H, W, 3], got {image.shape}")
    if masks.shape[:2] != image.shape[:2] or masks.shape[2] != len(class_ids):
        raise FashionDataError(
            f"image {image_id}: masks {masks.shape} do not fit image {image.shape} / "
            f"{len(class_ids)} class ids"
        )
    original_shape = image.shape
    if augmentation is not None:
        image, masks, keep = augmentation(image=image, masks=masks, rng=rng)
        keep = np.asarray(keep, dtype=np.int64)
        class_ids, box_only, index = class_ids[keep], box_only[keep], index[keep]
    image, masks, window, scale = resize_image_and_masks(
        image,
        masks,
        min_dim=config.IMAGE_MIN_DIM,
        max_dim=config.IMAGE_MAX_DIM,
        min_scale=config.IMAGE_MIN_SCALE,
        mode=config.IMAGE_RESIZE_MODE,
        rng=rng,
    )
    boxes = extract_bboxes(masks)
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, masks = boxes[nonempty], masks[:, :, nonempty]
    class_ids, box_only, index = class_ids[nonempty], box_only[nonempty], index[nonempty]
    if len(class_ids) > config.MAX_GT_INSTANCES:
        pick = np.sort(rng.choice(len(class_ids), config.MAX_GT_INSTANCES, replace=False))
        boxes, masks, class_ids, box_only, index = (
            boxes[pick],
            masks[:, :, pick],
            class_ids[pick],
            box_only[pick],
            index[pick],
        )
    if config.USE_MINI_MASK:
        masks = minimize_mask(boxes, masks, config.MINI_MASK_SHAPE)
    meta = compose_image_meta(
        image_id,
        original_shape,
        image.shape,
        window,
        scale,
        _active_class_ids(dataset, image_id, config.NUM_CLASSES),
    )
    mask_valid = (~box_only).astype(np.float32)
    kept_attrs = [attrs[int(k)] for k in index]
    return image, meta.astype(np.float32), class_ids, boxes, masks, mask_valid, kept_attrs


def attribute_targets(class_ids, attribute_ids, config):
    """One image's attribute inputs: ``(multi-hot uint8 [N, A], valid float32 [N])``.

    class_ids: int [N] internal (negative = crowd); attribute_ids: N lists of source ids. Valid
    is 1 for a class in ATTRIBUTE_CLASS_IDS (every class when it is empty).
    """
    from fashion_mrcnn.data.attributes import multi_hot

    hot = multi_hot(attribute_ids, config.attribute_ids())
    classes = np.abs(np.asarray(class_ids, dtype=np.int64).reshape(-1))
    if config.ATTRIBUTE_CLASS_IDS:
        valid = np.isin(classes, np.asarray(config.ATTRIBUTE_CLASS_IDS, dtype=np.int64))
    else:
        valid = np.ones(len(classes), dtype=bool)
    return hot, valid.astype(np.float32)


def _pad(array, size, axis=0):
    """Zero-pad ``array`` along ``axis`` to length ``size``."""
    pad = [(0, 0)] * array.ndim
    pad[axis] = (0, size - array.shape[axis])
    return np.pad(array, pad)


def training_example(dataset, config, image_id, anchors, augmentation=None, rng=None):
    """One image's model inputs (numpy, unbatched), as listed in the module docstring.

    ``anchors``: float32 [A, 4] pixel anchors of the molded image (``get_anchors_for_config(
    config, normalized=False)``).
    """
    from fashion_mrcnn.data.targets import build_rpn_targets

    rng = np.random.default_rng() if rng is None else rng
    image, meta, class_ids, boxes, masks, mask_valid, attrs = _prepare_gt(
        dataset, config, image_id, augmentation, rng
    )
    rpn_match, rpn_bbox = build_rpn_targets(anchors, class_ids, boxes, config, rng=rng)
    g = config.MAX_GT_INSTANCES
    extra = ()
    if int(config.NUM_ATTRIBUTES) > 0:
        hot, valid = attribute_targets(class_ids, attrs, config)
        extra = (_pad(hot, g), _pad(valid, g))
    return (
        mold_image(image, config).astype(np.float32),
        meta,
        np.asarray(rpn_match, dtype=np.int32).reshape(-1),
        np.asarray(rpn_bbox, dtype=np.float32),
        _pad(class_ids.astype(np.int32), g),
        _pad(norm_boxes(boxes, image.shape[:2]).reshape(-1, 4).astype(np.float32), g),
        _pad(masks.astype(np.uint8), g, axis=2),
        _pad(mask_valid, g),
    ) + extra


def _shapes(config, num_anchors):
    h, w = int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1])
    g = config.MAX_GT_INSTANCES
    mh, mw = tuple(config.MINI_MASK_SHAPE) if config.USE_MINI_MASK else (h, w)
    return (
        (h, w, 3),
        (config.IMAGE_META_SIZE,),
        (num_anchors,),
        (config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4),
        (g,),
        (g, 4),
        (mh, mw, g),
        (g,),
    ) + (((g, int(config.NUM_ATTRIBUTES)), (g,)) if int(config.NUM_ATTRIBUTES) > 0 else ())


def make_dataset(
    dataset,
    config,
    shuffle: bool = True,
    augmentation=None,
    seed: int = 0,
    repeat: bool = True,
    image_ids=None,
    errors: list | None = None,
):
    """A ``tf.data.Dataset`` of ``(inputs,)`` batches of BATCH_SIZE for ``keras.Model.fit``.

    ``dataset``: a prepared Dataset; ``image_ids`` (default ``dataset.image_ids``) to use;
    ``shuffle`` reshuffles every pass; ``augmentation`` follows the DESIGN.md contract;
    ``repeat`` makes it endless (``fit`` then needs ``steps_per_epoch``). The output is
    deterministic given ``seed``: sample k of the stream uses ``np.random.default_rng([seed, k])``
    for augmentation and crops, and the parallel map keeps order. Parallelism: NUM_WORKERS
    (AUTOTUNE when None). ``errors``: a list that receives every :class:`FashionDataError`
    raised while loading an image (the ``tf.errors.OpError`` that reaches ``fit`` keeps only
    its text; see :func:`data_error`).
    """
    import tensorflow as tf

    ids = np.asarray(dataset.image_ids if image_ids is None else image_ids, dtype=np.int64)
    if len(ids) == 0:
        raise FashionDataError("make_dataset: the dataset has no images (did you call prepare()?)")
    anchors = get_anchors_for_config(config, normalized=False)
    shapes = _shapes(config, len(anchors))
    dtypes = (
        tf.float32,
        tf.float32,
        tf.int32,
        tf.float32,
        tf.int32,
        tf.float32,
        tf.uint8,
        tf.float32,
    ) + ((tf.uint8, tf.float32) if int(config.NUM_ATTRIBUTES) > 0 else ())
    names = input_names(config)

    def load(counter, image_id):
        rng = np.random.default_rng([int(seed), int(counter)])
        try:
            return training_example(dataset, config, int(image_id), anchors, augmentation, rng)
        except FashionDataError as e:
            if errors is not None:
                errors.append(e)
            raise
        except Exception as e:  # name the image, keep the original error chained
            ref = (
                dataset.image_reference(int(image_id))
                if hasattr(dataset, "image_reference")
                else ""
            )
            err = FashionDataError(f"image {int(image_id)} {ref}: {type(e).__name__}: {e}")
            if errors is not None:
                errors.append(err)
            raise err from e

    def to_inputs(counter, image_id):
        out = tf.numpy_function(load, [counter, image_id], dtypes, stateful=False)
        for t, s in zip(out, shapes):
            t.set_shape(s)
        return (dict(zip(names, out, strict=True)),)

    ds = tf.data.Dataset.from_tensor_slices(ids)
    if shuffle:
        ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.enumerate()
    workers = tf.data.AUTOTUNE if config.NUM_WORKERS is None else int(config.NUM_WORKERS)
    ds = ds.map(to_inputs, num_parallel_calls=workers, deterministic=True)
    ds = ds.batch(config.BATCH_SIZE, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def data_error(exc: BaseException, errors) -> FashionDataError | None:
    """The :class:`FashionDataError` behind a failed ``fit``, or None.

    ``exc``: what ``fit`` raised; ``errors``: the list given to :func:`make_dataset`. A loading
    error crosses ``tf.numpy_function`` as a ``tf.errors.OpError`` carrying only its text, so the
    original object (its class, its message naming file / row / image) is taken from ``errors``:
    the one whose message the OpError quotes, else one whose class it names; None when it
    names none (a failure of something else, e.g. out of memory, stays what it is).
    """
    import tensorflow as tf

    if not isinstance(exc, tf.errors.OpError) or not errors:
        return None
    text = str(exc.message)
    quoted = [e for e in errors if str(e) in text]
    named = [e for e in errors if f"{type(e).__name__}: " in text]
    return (quoted or named or [None])[0]


def release_iterators(exc: BaseException) -> None:
    """Free the ``tf.data`` iterators a failed ``fit`` leaves in ``exc``'s traceback.

    They sit in the locals of ``fit``'s frames (and reference cycles through Keras' epoch
    generators). Freed only at interpreter exit, their destructor waits for in-flight
    ``tf.numpy_function`` calls whose threads can no longer take the GIL, and the process hangs
    (or aborts). Clearing the frames' locals (the traceback stays printable) and collecting now,
    while Python still runs those calls, lets them finish and the iterators shut down.
    """
    import gc
    import traceback

    traceback.clear_frames(exc.__traceback__)
    gc.collect()
