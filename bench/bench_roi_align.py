"""Forward + backward time of PyramidROIAlign's two crops on CPU, at the model's shapes.

Usage: python bench/bench_roi_align.py [--repeats 20] [--threads 2] [--size 256] [--batch 2]

P2..P5 of a ``--size`` px image (strides 4..32, 256 channels), ``--batch`` images, the box head's
200 boxes per image at 7 x 7 and the mask head's 30 per image at 14 x 14 (canonical size 224, as
``model.graph`` builds the layer). One step = both crops, then the gradient of a weighted sum
into P2..P5, in one ``tf.function``. Prints the median wall ms (and process CPU ms) of:
``crop_and_resize``, ``xla`` uncompiled, ``xla`` with ``jit_compile=True``; the crops of the
three are asserted equal first, and the gradients of the two ``xla`` runs.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def random_boxes(rng, batch, n):
    size = np.exp(rng.uniform(np.log(0.03), np.log(0.9), (batch, n, 2)))
    y1x1 = rng.uniform(0, 1, (batch, n, 2)) * (1 - size)
    return np.concatenate([y1x1, y1x1 + size], axis=-1).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()

    from bench_setup import tensorflow, timed

    tf = tensorflow(args.threads)
    from fashion_mrcnn.layers import PyramidROIAlign

    rng = np.random.default_rng(0)
    image = (args.size, args.size, 3)
    fms = [
        tf.constant(rng.normal(size=(args.batch, args.size // s, args.size // s, 256)), tf.float32)
        for s in (4, 8, 16, 32)
    ]
    box7 = tf.constant(random_boxes(rng, args.batch, 200))
    box14 = tf.constant(random_boxes(rng, args.batch, 30))
    up7 = tf.constant(rng.normal(size=(args.batch, 200, 7, 7, 256)), tf.float32)
    up14 = tf.constant(rng.normal(size=(args.batch, 30, 14, 14, 256)), tf.float32)

    def step_fn(method, jit):
        align7 = PyramidROIAlign([7, 7], image, method=method)
        align14 = PyramidROIAlign([14, 14], image, method=method)

        def step():
            with tf.GradientTape() as tape:
                tape.watch(fms)
                out7 = align7([box7] + fms)
                out14 = align14([box14] + fms)
                total = tf.reduce_sum(out7 * up7) + tf.reduce_sum(out14 * up14)
            return [out7, out14] + tape.gradient(total, fms)

        return tf.function(step, jit_compile=jit)

    runs = {
        "crop_and_resize": step_fn("crop_and_resize", False),
        "xla, not compiled": step_fn("xla", False),
        "xla, jit_compile=True": step_fn("xla", True),
    }
    results = {name: [np.asarray(t) for t in fn()] for name, fn in runs.items()}
    reference = results["crop_and_resize"]
    for name, got in results.items():  # the crops: equal up to float rounding
        for a, b in zip(got[:2], reference[:2]):
            np.testing.assert_allclose(a, b, atol=1e-3, err_msg=name)
    xla_grads = results["xla, not compiled"][2:]
    for a, b in zip(results["xla, jit_compile=True"][2:], xla_grads):
        np.testing.assert_allclose(a, b, atol=1e-3, err_msg="gradients, compiled")
    # CropAndResize's CPU gradient races between threads (tensorflow/tensorflow#42033): its
    # distance to the XLA crop's deterministic gradient is printed, not asserted
    apart = max(float(np.abs(a - b).max()) for a, b in zip(reference[2:], xla_grads))
    print(
        f"PyramidROIAlign forward+backward: B={args.batch}, {args.size} px, C=256, "
        f"{args.batch * 200} boxes at 7x7 + {args.batch * 30} at 14x14, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    print(f"  max |gradient(crop_and_resize) - gradient(xla)| on this run: {apart:.2e}")
    for name, fn in runs.items():
        wall, cpu = timed(fn, args.repeats)
        print(f"  {name:24s} {wall:8.2f} ms wall  ({cpu:.2f} ms CPU)")


if __name__ == "__main__":
    main()
