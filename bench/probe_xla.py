"""Which ops still keep XLA from compiling the model (issue 19, section 3): a probe, not a bench.

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/probe_xla.py [--size 128] [--roi-align xla]

Builds a cpu-smoke model (7 synthetic categories, ``--size`` px, ``Config.ROI_ALIGN`` from
``--roi-align``) and asks XLA to compile, on CPU, (1) the inference graph's call
(``tf.function(jit_compile=True)`` over ``keras_model(inputs)``) and (2) the training step
(``MaskRCNNTrainer.compile(jit_compile=True)``, one ``train_on_batch``). For each it prints
"compiled" or the error's op types with the layers holding them. tf2xla stops at the first
function (a ``map`` / ``while`` body is one) that fails, so a whole-graph error hides the
blockers behind it; hence (3) each graph is also walked layer by layer (Keras' own graph walk,
``Functional._run_through_graph``, a private API: this is a probe), compiling each layer's call
on its real inputs, and in training its gradient too, and every layer that fails is listed.
Errors are either an op with no XLA kernel ("No registered 'X' OpKernel for XLA_CPU_JIT") or
an operand that must be a compile-time constant or a shape XLA cannot bound (dynamic shapes).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

UNSUPPORTED = re.compile(
    r"No registered '(\w+)' OpKernel for XLA_\w+ devices compatible with node \{\{node ([^}]+)\}\}"
)
NODE = re.compile(r"\{\{node ([^}]+)\}\}")


def XLA_ERRORS(tf):  # noqa: N802 (a constant that needs TensorFlow imported)
    """The error types tf2xla raises for a graph it cannot compile."""
    return (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.InternalError)


def blockers(message: str) -> dict[str, list[str]]:
    """op type -> sorted layer paths (node names without their last component) in an XLA error;
    a message naming no unsupported op gives ``{"<first line of the error>": [its nodes]}``."""
    found = collections.defaultdict(set)
    for op, node in UNSUPPORTED.findall(message):
        found[op].add(node.rsplit("/", 1)[0])
    if not found:
        head = message.strip().splitlines()[0][:300]
        found[head] = {n.rsplit("/", 1)[0] for n in NODE.findall(message)}
    return {op: sorted(paths) for op, paths in sorted(found.items())}


def attempt(name: str, fn) -> None:
    import tensorflow as tf

    try:
        fn()
    except XLA_ERRORS(tf) as exc:
        print(f"{name}: NOT compiled ({type(exc).__name__})")
        for op, paths in blockers(exc.message).items():
            print(f"  {op}: {', '.join(paths[:6])}{' ...' if len(paths) > 6 else ''}")
        return
    print(f"{name}: compiled")


def _float_tensors(tf, structure):
    return [t for t in tf.nest.flatten(structure) if tf.is_tensor(t) and t.dtype.is_floating]


def per_layer(name: str, keras_model, inputs, training: bool) -> None:
    """Run ``keras_model`` layer by layer (Keras' own graph walk), asking XLA to compile each
    layer's call on its real inputs (with ``training``: its call and the gradient of its float
    outputs into its float inputs and weights); print every layer that does not compile and why,
    then run it uncompiled so the walk goes on."""
    import tensorflow as tf

    failed = []

    def wrap(layer):
        def compiled(*args, **kwargs):
            def step(args, kwargs):
                if not training:
                    return layer(*args, training=False, **kwargs)
                with tf.GradientTape() as tape:
                    sources = _float_tensors(tf, (args, kwargs))
                    tape.watch(sources)
                    out = layer(*args, training=True, **kwargs)
                    sums = [tf.reduce_sum(t) for t in _float_tensors(tf, out)]
                if sums:  # a layer with only integer / bool outputs has no gradient to take
                    tape.gradient(tf.add_n(sums), sources + list(layer.trainable_variables))
                return out

            try:
                return tf.function(step, jit_compile=True)(args, kwargs)
            except XLA_ERRORS(tf) as exc:
                failed.append((layer.name, type(layer).__name__, blockers(exc.message)))
                return layer(*args, training=training, **kwargs)

        return compiled

    keras_model._run_through_graph(keras_model._standardize_inputs(inputs), operation_fn=wrap)
    print(f"{name}, layer by layer: {len(failed)} layers do not compile")
    for layer_name, kind, found in failed:
        for op in found:
            print(f"  {layer_name} ({kind}): {op}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--roi-align", default="xla", choices=["xla", "crop_and_resize"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from bench_setup import SceneDataset, synthetic_config, synthetic_scenes, tensorflow

    tf = tensorflow(args.threads)
    from fashion_mrcnn.data.pipeline import make_dataset
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.training import MaskRCNNTrainer, graph_input_names, make_optimizer

    cfg = synthetic_config(
        "cpu-smoke", args.size, ROI_ALIGN=args.roi_align, JIT_COMPILE=args.roi_align == "xla"
    )
    scenes = synthetic_scenes(args.size, 2)
    print(
        f"cpu-smoke size={args.size} ROI_ALIGN={args.roi_align} batch={cfg.BATCH_SIZE} "
        f"python={sys.version.split()[0]} tf={tf.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        batch = next(iter(make_dataset(SceneDataset(scenes, cfg.NUM_CLASSES), cfg, seed=0)))[0]
        infer = MaskRCNN("inference", cfg, tmp)
        inputs = {k: batch[k] for k in ("input_image", "input_image_meta")}
        call = tf.function(lambda x: infer.keras_model(x, training=False), jit_compile=True)
        attempt("inference graph call", lambda: call(inputs))
        per_layer("inference graph", infer.keras_model, inputs, training=False)

        model = MaskRCNN("training", cfg, tmp)
        model.set_trainable("all", verbose=0)
        trainer = MaskRCNNTrainer(model.keras_model, cfg)
        trainer.compile(optimizer=make_optimizer(cfg, 1e-3, 1000), jit_compile=True)
        attempt("training step", lambda: trainer.train_on_batch(batch))
        train_inputs = {k: batch[k] for k in graph_input_names(model.keras_model)}
        per_layer("training graph", model.keras_model, train_inputs, training=True)


if __name__ == "__main__":
    main()
