"""What a model sub-command (train, evaluate, predict, submit, tune-postprocess) works on, from
its arguments: train's devices (``--strategy``), the run folder of ``--weights`` (config and
classes), the detector (one checkpoint, an ensemble of several, test-time views from ``--tta``)
and the ``--postprocess`` file.
"""

from __future__ import annotations


def distribution(args):
    """``--strategy`` built (``model.distribute.build``); called before anything else of the
    command touches TensorFlow, as ``multiworker`` requires. ConfigError (exit 2) for ``tpu``
    without a TPU or ``multiworker`` without TF_CONFIG."""
    from fashion_mrcnn.model import distribute

    return distribute.build(getattr(args, "strategy", "auto"))


def checkpoints(args) -> list:
    """``--weights`` as a list of local paths (one checkpoint, or an ensemble's): a URL or a
    folder is replaced, in ``args`` too, by its local checkpoint
    (``remote_weights.local_weights``: a URL is copied into the cache once)."""
    from fashion_mrcnn.workflow.remote_weights import local_weights

    weights = args.weights
    weights = list(weights) if isinstance(weights, list | tuple) else [weights]
    args.weights = [local_weights(w) for w in weights]
    return list(args.weights)


def tta_views(args):
    """``--tta``'s views, checked (ConfigError on a bad token); None without it."""
    from fashion_mrcnn.inference.tta import parse_tta

    views = getattr(args, "tta", None)
    parse_tta(views)
    return views


def run_config(args):
    """``(Config, categories)`` of ``--weights``'s run folder (``--config`` / ``--classes`` win;
    with several checkpoints, the first one's)."""
    from fashion_mrcnn.workflow.rundir import read_run

    return read_run(checkpoints(args)[0], args.config, getattr(args, "classes", None))


def detector(config, args):
    """What ``detect`` runs on for ``--weights`` (all layers must fit unless
    ``--allow-partial``): one checkpoint's model, or with several checkpoints or ``--tta`` an
    ensemble / TTA model (``inference.tta``), whose passes are announced."""
    from fashion_mrcnn.workflow import stages

    model = stages.load_detector(
        config, checkpoints(args), tta_views(args), allow_partial=args.allow_partial
    )
    if hasattr(model, "pass_count"):
        print(f"test-time passes: {model.describe()} per image")
    return model


def postprocess_file(args, config):
    """``--postprocess`` read and checked against the model's classes, before the model loads."""
    if args.postprocess is None:
        return None
    from fashion_mrcnn.inference.postprocess import read_postprocess

    return read_postprocess(args.postprocess, int(config.NUM_CLASSES))
