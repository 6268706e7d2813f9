"""The weight update alone: Matterport's L2 decay (value and gradient) plus SGD with momentum and a
per-variable clipnorm, Keras's way against ``model.optimizer.ClippedMomentumSGD`` with
``model.losses.l2_regularization`` (issue 17, "the optimizer and L2 passes over all weights").

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_optimizer.py [--preset colab-t4] \\
        [--size 512] [--repeats 30] [--threads 2]

Both variants run in one ``tf.function`` over the trainable variables of the preset's training
model (all layers), with the same fixed random gradients standing in for the loss gradients:

- ``keras``: the literal formula ``wd * sum(w**2) / size(w)`` per weight under a tape, its
  gradient added to the loss gradient, then ``keras.optimizers.SGD(momentum, clipnorm)``;
- ``ours``: ``l2_regularization`` (one ``l2_loss`` per weight and a dot product) under a tape,
  then ``ClippedMomentumSGD``.

It prints the variable count, the parameter count, the executor ops of each traced function
and the median wall time per update (the variants alternate, ``--repeats`` times each).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def literal_l2(weights, weight_decay: float):
    """Matterport's decay written out per weight (what ``l2_regularization`` replaced)."""
    import tensorflow as tf

    terms = []
    for w in weights:
        if str(w.path).split("/")[-1] in ("gamma", "beta"):
            continue
        v = tf.cast(w, tf.float32)
        terms.append(tf.reduce_sum(tf.square(v)) / tf.cast(tf.size(v), tf.float32))
    return float(weight_decay) * tf.add_n(terms)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="colab-t4")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from bench_setup import synthetic_config, tensorflow

    tf = tensorflow(args.threads)
    import keras

    from fashion_mrcnn.model.losses import l2_regularization
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.optimizer import ClippedMomentumSGD

    cfg = synthetic_config(args.preset, args.size, BACKBONE_WEIGHTS=None, MIXED_PRECISION=False)
    with tempfile.TemporaryDirectory() as tmp:
        model = MaskRCNN("training", cfg, tmp)
        model.set_trainable("all", verbose=0)
        variables = model.keras_model.trainable_variables
    rng = np.random.default_rng(0)
    grads = [tf.constant(rng.normal(scale=0.1, size=v.shape).astype(np.float32)) for v in variables]
    kw = dict(learning_rate=1e-3, momentum=cfg.LEARNING_MOMENTUM, clipnorm=cfg.GRADIENT_CLIP_NORM)
    variants = {
        "keras": (literal_l2, keras.optimizers.SGD(**kw)),
        "ours": (l2_regularization, ClippedMomentumSGD(**kw)),
    }
    steps = {}
    for name, (l2, opt) in variants.items():
        opt.build(variables)

        @tf.function
        def update(l2=l2, opt=opt):
            with tf.GradientTape() as tape:
                decay = l2(variables, cfg.WEIGHT_DECAY)
            decay_grads = tape.gradient(decay, variables)
            total = [g if d is None else g + d for g, d in zip(grads, decay_grads)]
            opt.apply_gradients(list(zip(total, variables)))
            return decay

        ops = len(update.get_concrete_function().graph.get_operations())
        steps[name] = (update, ops, [])
    for _ in range(3):
        for update, _, _ in steps.values():
            update()
    for _ in range(args.repeats):
        for update, _, times in steps.values():
            t0 = time.perf_counter()
            update()
            times.append(time.perf_counter() - t0)
    params = sum(int(np.prod(v.shape)) for v in variables)
    print(f"preset={args.preset} size={args.size} variables={len(variables)} params={params:,}")
    for name, (_, ops, times) in steps.items():
        print(f"{name:6s} graph ops {ops:6d}   median {1000 * np.median(times):7.1f} ms")


if __name__ == "__main__":
    main()
