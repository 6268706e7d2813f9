"""ops.roi_align: the numpy crop_and_resize reference against tf.image.crop_and_resize (both
refusing NaN / inf boxes), and FPN level assignment numpy vs TF."""

import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.ops import roi_align as R


def random_norm_boxes(rng, n, outside=0.0):
    a = rng.uniform(-outside, 1 + outside, (n, 2, 2))
    return np.stack([a[:, 0, 0], a[:, 1, 0], a[:, 0, 1], a[:, 1, 1]], axis=1).astype(np.float32)


@pytest.mark.parametrize("size", [(7, 7), (14, 10), (1, 1), (1, 5)])
def test_crop_and_resize_np_matches_tf(size):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 17, 23, 4)).astype(np.float32)
    boxes = random_norm_boxes(rng, 20, outside=0.2)  # includes flipped and out-of-image boxes
    idx = rng.integers(0, 2, 20).astype(np.int32)
    expected = tf.image.crop_and_resize(images, boxes, idx, size, extrapolation_value=0.5).numpy()
    got = R.crop_and_resize_np(images, boxes, size, box_indices=idx, extrapolation_value=0.5)
    assert got.shape == (20,) + size + (4,)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    single = R.crop_and_resize_np(images[1], boxes, size)
    expected1 = tf.image.crop_and_resize(images[1:], boxes, np.zeros(20, np.int32), size).numpy()
    np.testing.assert_allclose(single, expected1, atol=1e-4)


def test_crop_and_resize_identity_box():
    img = np.arange(5 * 5, dtype=np.float32).reshape(5, 5, 1)
    out = R.crop_and_resize_np(img, [[0, 0, 1, 1]], (5, 5))
    np.testing.assert_allclose(out[0], img)
    with pytest.raises(ValueError, match="box_indices"):
        R.crop_and_resize_np(img[None], [[0, 0, 1, 1]], (5, 5))


def test_roi_align_tf_wrapper_and_gradient_stops_at_boxes():
    rng = np.random.default_rng(1)
    fm = tf.constant(rng.normal(size=(1, 9, 9, 2)).astype(np.float32))
    boxes = tf.Variable(random_norm_boxes(rng, 3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(fm)
        out = R.roi_align_tf(fm, boxes, tf.zeros(3, tf.int32), (4, 4))
        total = tf.reduce_sum(out)
    np.testing.assert_allclose(
        out.numpy(), R.crop_and_resize_np(fm.numpy()[0], boxes.numpy(), (4, 4)), atol=1e-5
    )
    assert tape.gradient(total, boxes) is None
    assert tape.gradient(total, fm) is not None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_both_crops_refuse_a_non_finite_box_naming_it(bad):
    fm = np.ones((1, 5, 5, 2), np.float32)
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, bad, 1.0, 1.0]], np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=R.NON_FINITE_BOXES):
        R.roi_align_tf(fm, boxes, np.zeros(2, np.int32), (3, 3))
    with pytest.raises(ValueError, match=R.NON_FINITE_BOXES):
        R.crop_and_resize_np(fm[0], boxes, (3, 3))


def test_roi_levels():
    shape = (1024, 1024)
    # a 224 px box on a 1024 image -> level 4; 112 -> 3; 56 -> 2; 448 -> 5; tiny -> 2; huge -> 5
    sides = np.array([224, 112, 56, 448, 2, 1023]) / 1023
    boxes = np.stack([np.zeros(6), np.zeros(6), sides, sides], axis=1)
    boxes = np.concatenate([boxes, np.zeros((1, 4))])  # padding box
    expected = [4, 3, 2, 5, 2, 5, 2]
    np.testing.assert_array_equal(R.roi_levels_np(boxes, shape), expected)
    np.testing.assert_array_equal(R.roi_levels_tf(boxes, shape).numpy(), expected)
    rng = np.random.default_rng(2)
    rand = random_norm_boxes(rng, 500)
    rand = np.concatenate(
        [np.minimum(rand[:, :2], rand[:, 2:]), np.maximum(rand[:, :2], rand[:, 2:])], 1
    )
    np.testing.assert_array_equal(
        R.roi_levels_tf(rand, (512, 384)).numpy(), R.roi_levels_np(rand, (512, 384))
    )
    np.testing.assert_array_equal(
        R.roi_levels_tf(rand, (128, 128), 28.0).numpy(), R.roi_levels_np(rand, (128, 128), 28.0)
    )


# ------------------------------------------------------------------- the crop that XLA compiles
# Eager, crop_and_resize_xla repeats the kernel's float32 arithmetic (differences ~5e-7). In a
# graph, Grappler turns the division by (ph - 1) into a product with its reciprocal and XLA
# fuses multiply-adds, moving some sampling positions by one float32 ulp: about 2e-6 px on
# these maps of at most 23 px, hence atol 1e-5 (the layer tests, on 128 px maps, allow 1e-4).
def awkward_boxes(rng, n):
    """Boxes inside, partly outside, flipped, zero-size (a line, a point), the full image and a
    box on the last pixel: float32 [n + 6, 4] normalised."""
    special = [[0.3, 0.4, 0.3, 0.9], [0.5, 0.5, 0.5, 0.5], [0, 0, 1, 1], [1, 1, 1, 1]]
    special += [[0.9, 0.8, 0.1, 0.2], [-0.5, -0.5, 1.5, 1.5]]
    return np.concatenate([random_norm_boxes(rng, n, outside=0.3), special]).astype(np.float32)


@pytest.mark.parametrize("size", [(7, 7), (14, 10), (1, 1), (1, 5), (6, 1)])
def test_crop_and_resize_xla_matches_tf_and_numpy(size):
    rng = np.random.default_rng(3)
    images = rng.normal(size=(3, 17, 23, 4)).astype(np.float32)
    boxes = awkward_boxes(rng, 30)
    idx = rng.integers(0, 3, len(boxes)).astype(np.int32)
    for extrapolation in (0.0, 0.5):
        expected = tf.image.crop_and_resize(images, boxes, idx, size, "bilinear", extrapolation)
        got = R.crop_and_resize_xla(images, boxes, idx, size, extrapolation).numpy()
        assert got.shape == (len(boxes),) + size + (4,)
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
        reference = R.crop_and_resize_np(images, boxes, size, idx, extrapolation)
        np.testing.assert_allclose(got, reference, atol=1e-5)


def image_gradient(crop, images, boxes, idx, size, upstream):
    """d sum(crop * upstream) / d images: float32 [B, H, W, C]."""
    images = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(crop(images, boxes, idx, size) * upstream)
    return tape.gradient(total, images).numpy()


def tf_crop(images, boxes, idx, size):
    return tf.image.crop_and_resize(images, boxes, idx, size)


def kernel_gradient(images, boxes, idx, upstream):
    """CropAndResize's own image gradient, one box at a time, summed in float64 [B, H, W, C].

    Box by box because the CPU kernel shards its boxes over threads that add into the same
    pixels without a lock (tensorflow/tensorflow#42033: nondeterministic unless op determinism
    is on; seen here losing updates of ~0.2-0.4 at the model's shapes, 2 threads)."""
    shape = tf.constant(images.shape, tf.int32)
    total = np.zeros(images.shape, np.float64)
    for i in range(len(boxes)):
        total += tf.raw_ops.CropAndResizeGradImage(
            grads=upstream[i : i + 1],
            boxes=boxes[i : i + 1],
            box_ind=idx[i : i + 1],
            image_size=shape,
            T=tf.float32,
        ).numpy()
    return total


@pytest.mark.parametrize("size", [(7, 7), (14, 14), (1, 1)])
def test_crop_and_resize_xla_gradient_equals_crop_and_resize(size):
    rng = np.random.default_rng(4)
    images = rng.normal(size=(2, 13, 11, 3)).astype(np.float32)
    boxes = awkward_boxes(rng, 25)
    idx = rng.integers(0, 2, len(boxes)).astype(np.int32)
    upstream = rng.normal(size=(len(boxes),) + size + (3,)).astype(np.float32)
    expected = kernel_gradient(images, boxes, idx, upstream)
    np.testing.assert_allclose(
        R.crop_and_resize_grad_np(images.shape, boxes, idx, upstream), expected, atol=1e-5
    )
    got = image_gradient(R.crop_and_resize_xla, images, boxes, idx, size, upstream)
    assert np.abs(expected).sum() > 1  # the boxes touch the images
    np.testing.assert_allclose(got, expected, atol=1e-5)
    compiled = tf.function(
        lambda im: image_gradient_graph(im, boxes, idx, size, upstream), jit_compile=True
    )
    np.testing.assert_allclose(compiled(tf.constant(images)).numpy(), expected, atol=1e-5)


def test_crop_and_resize_xla_gradient_is_deterministic_at_the_model_shapes():
    """400 boxes at 7 x 7 on P2 of a 256 px image (64 x 64, 256 channels): the same gradient on
    every run, equal to the float64 reference (CropAndResize's own is not: kernel_gradient)."""
    rng = np.random.default_rng(7)
    images = rng.normal(size=(2, 64, 64, 256)).astype(np.float32)
    boxes = np.sort(rng.uniform(0, 1, (400, 2, 2)), axis=2).transpose(0, 2, 1).reshape(400, 4)
    boxes = boxes.astype(np.float32)
    idx = rng.integers(0, 2, 400).astype(np.int32)
    upstream = rng.normal(size=(400, 7, 7, 256)).astype(np.float32)
    runs = [image_gradient(R.crop_and_resize_xla, images, boxes, idx, (7, 7), upstream)]
    runs += [image_gradient(R.crop_and_resize_xla, images, boxes, idx, (7, 7), upstream)]
    np.testing.assert_array_equal(runs[0], runs[1])
    reference = R.crop_and_resize_grad_np(images.shape, boxes, idx, upstream)
    np.testing.assert_allclose(runs[0], reference, atol=1e-4)


def image_gradient_graph(images, boxes, idx, size, upstream):
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(R.crop_and_resize_xla(images, boxes, idx, size) * upstream)
    return tape.gradient(total, images)


def test_crop_and_resize_xla_compiles_where_crop_and_resize_does_not():
    rng = np.random.default_rng(5)
    images = tf.constant(rng.normal(size=(2, 9, 12, 5)).astype(np.float32))
    boxes = tf.constant(awkward_boxes(rng, 10))
    idx = tf.constant(rng.integers(0, 2, 16).astype(np.int32))
    compiled = tf.function(lambda *a: R.crop_and_resize_xla(*a, (7, 5)), jit_compile=True)
    np.testing.assert_allclose(
        compiled(images, boxes, idx).numpy(), tf_crop(images, boxes, idx, (7, 5)).numpy(), atol=1e-5
    )
    assert "gather" in compiled.experimental_get_compiler_ir(images, boxes, idx)(stage="hlo")
    reference = tf.function(lambda *a: tf_crop(*a, (7, 5)), jit_compile=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="CropAndResize"):
        reference(images, boxes, idx)  # the control: jit_compile=True is in force


def test_crop_and_resize_xla_gives_a_non_finite_box_a_nan_crop():
    fm = np.ones((2, 5, 5, 2), np.float32)
    boxes = np.array([[0, 0, 1, 1], [0, np.nan, 1, 1], [0, 0, np.inf, 1], [0, 0, 0.5, 0.5]])
    boxes = boxes.astype(np.float32)
    idx = np.array([0, 1, 1, 1], np.int32)
    compiled = tf.function(lambda *a: R.crop_and_resize_xla(*a, (3, 3)), jit_compile=True)
    for out in (R.crop_and_resize_xla(fm, boxes, idx, (3, 3)), compiled(fm, boxes, idx)):
        out = out.numpy()
        assert np.isnan(out[1:3]).all()
        np.testing.assert_array_equal(out[[0, 3]], 1.0)


def test_multilevel_crop_and_resize_xla_matches_each_level():
    rng = np.random.default_rng(6)
    maps = [rng.normal(size=(2, s, s + 3, 4)).astype(np.float32) for s in (16, 8, 4, 2)]
    boxes = awkward_boxes(rng, 40)
    idx = rng.integers(0, 2, len(boxes)).astype(np.int32)
    levels = rng.integers(0, 4, len(boxes)).astype(np.int32)
    assert set(levels) == {0, 1, 2, 3}
    upstream = tf.constant(rng.normal(size=(len(boxes), 5, 6, 4)).astype(np.float32))
    fms = [tf.constant(m) for m in maps]
    with tf.GradientTape() as tape:
        tape.watch(fms)
        got = R.multilevel_crop_and_resize_xla(fms, boxes, idx, levels, (5, 6))
        total = tf.reduce_sum(got * upstream)
    grads = tape.gradient(total, fms)
    np.testing.assert_allclose(
        got.numpy(), R.multilevel_crop_and_resize_np(maps, boxes, idx, levels, (5, 6)), atol=1e-5
    )
    for level, (fm, grad) in enumerate(zip(maps, grads)):
        rows = np.flatnonzero(levels == level)
        expected = kernel_gradient(fm, boxes[rows], idx[rows], upstream.numpy()[rows])
        np.testing.assert_allclose(grad.numpy(), expected, atol=1e-5)


def test_crop_and_resize_xla_compiled_reads_the_edge_of_a_box_clipped_to_the_image():
    """A box side at 0 or 1 samples the image's edge pixels. Compiled, XLA's fused
    multiply-adds put those samples a few ulps outside ``[0, size - 1]``; read as outside, the
    whole edge column was 0 (seen in the cpu-smoke graph at 128 px). CropAndResize's own kernel
    does the same now and then (its float32 positions overshoot too), so the compiled crop is
    held to the uncompiled one and to no sample read as outside."""
    rng = np.random.default_rng(7)
    images = rng.uniform(1, 2, (1, 32, 32, 4)).astype(np.float32)
    y1x1 = rng.uniform(0.0, 0.7, (64, 2)).astype(np.float32)
    boxes = np.concatenate([y1x1, np.ones((64, 2), np.float32)], axis=1)  # y2 = x2 = 1
    boxes[::2, :2] = 0.0  # and boxes whose y1 = x1 = 0
    idx = np.zeros(64, np.int32)
    compiled = tf.function(lambda *a: R.crop_and_resize_xla(*a, (7, 7)), jit_compile=True)
    out = compiled(images, boxes, idx).numpy()
    assert out.min() >= 1.0  # no sample read as outside (0)
    eager = R.crop_and_resize_xla(images, boxes, idx, (7, 7)).numpy()
    np.testing.assert_allclose(out, eager, atol=1e-5)
