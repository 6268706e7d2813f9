"""Workflow layer: the functions the CLI, the notebooks and the demo share.

- :mod:`.stages`: one function per stage (explore, subset, train, evaluate, oversample, compare,
  error analysis, predict, submit);
- :mod:`.rundir`: what a training run folder holds (config, classes, checkpoints);
- :mod:`.tuning`: the tuner (in-process trials or one notebook run per grid point), on
  :mod:`.grid` files;
- :mod:`.papermill_runner` (one notebook), :mod:`.pipeline` (stages 00-05 in order),
  :mod:`.kernelspec` (the kernel they run on), :mod:`.handoff` (artifacts between stages),
  :mod:`.display` (artifacts shown in a notebook), :mod:`.overrides` (``--set`` parameters);
- :mod:`.commands` / :mod:`.command_args`: the model sub-commands of ``fashion-mrcnn`` and their
  parsers; :mod:`.tool_commands`: demo, tune, pipeline, cache, weights; :mod:`.demo`: ``make demo``;
  :mod:`.merge_shards`: the outputs of ``predict`` / ``submit --shard I/N`` joined into one.

``register(subparsers)`` adds the model and tool commands to the ``fashion-mrcnn`` parser.
"""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the workflow sub-commands to ``subparsers`` (an argparse sub-parser action)."""
    from fashion_mrcnn.workflow import command_args, tool_commands

    command_args.register(subparsers)
    tool_commands.register(subparsers)
