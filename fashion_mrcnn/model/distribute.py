"""Training distribution by name: the ``tf.distribute`` strategy, who writes the run's files, and
the batch / learning-rate rule.

Names (``constants.STRATEGY_NAMES``; ``fashion-mrcnn train --strategy``, notebooks 01-03's
``strategy`` parameter, ``stages.train(strategy=...)``):

- ``auto``: ``mirrored`` when TensorFlow sees more than one GPU, else ``one``.
- ``one``: TensorFlow's default strategy: one device (the GPU when there is one, else the CPU).
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every visible GPU, one replica each (a
  Kaggle 2xT4 machine: two replicas). Without a GPU: over the logical CPU devices, normally one
  (the tests split the CPU into two to check the maths).
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy``; every worker runs the same
  command with its own ``TF_CONFIG`` (cluster addresses and its task). It must be built before
  TensorFlow starts any op (``fashion-mrcnn train`` builds it first). Replicas: every GPU of
  every worker (one CPU replica per worker without GPUs).
- ``tpu``: ``TPUClusterResolver`` + ``TPUStrategy`` when a TPU is there (``TPU_NAME`` set, or a
  TPU VM's ``/dev/accel*`` / ``/dev/vfio/*`` device), else ConfigError. UNTESTED: no TPU was
  available to this project, so whether the graph runs on one is not known; ``tpu`` sets
  JIT_COMPILE (the fixed-shape graph with ``ROI_ALIGN = "xla"``: a TPU runs XLA only), whose
  training step and detect compile under XLA on CPU (``tests/model/test_jit_compile.py``).

The batch and learning-rate rule (:func:`config_for`, :func:`batch_rule`): IMAGES_PER_GPU is per
replica, GPU_COUNT becomes the replica count, so the global batch BATCH_SIZE = IMAGES_PER_GPU x
replicas (what the input pipeline batches; ``fit`` splits it across the replicas, and an epoch
of one pass over the data has ceil(images / BATCH_SIZE) steps). Each replica's loss is the mean
over its own images, divided by the replica count before the gradients are summed across
replicas (``training.MaskRCNNTrainer.train_step``), so a step follows the mean gradient of the
global batch, as one device would on the same batch; the optimizer clips the summed gradient
(``model.optimizer``). Exactly so when the replicas hold equal counts of positive anchors and
RoIs: the box and mask losses are means over those counts, taken per replica, so distinct images
weigh a little differently than in one device's batch (measured on 8 distinct synthetic scenes:
0.8 % of the first step's loss, 11 % of its update; ``tests/model/test_distribute.py``). LEARNING_RATE is used as configured, NOT scaled with the replicas: with
more replicas each step averages more images at the same rate. To keep a rate tuned at another
global batch, scale it yourself (e.g. linearly, ``--lr``). ``NORM = "bn"`` (trainable
BatchNorm) takes its statistics per replica (IMAGES_PER_GPU images); GroupNorm and frozen BN do
not depend on the split.

Files under ``multiworker`` (:attr:`Distribution.chief`): the chief (task ``chief``, else
``worker`` 0) writes the run folder and the checkpoints; another worker writes its copies into a
scratch folder of its own (``workflow.stages.train``). To resume, every worker must read the
chief's run folder (``--out`` on a shared file system, e.g. a ``/gcs/`` mount on Vertex AI);
:func:`check_workers_agree` stops all of them with a ConfigError when their epochs differ.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from typing import Any

from fashion_mrcnn.constants import STRATEGY_NAMES
from fashion_mrcnn.errors import ConfigError


@dataclass(frozen=True)
class Distribution:
    """A built strategy: ``name`` the resolved kind ("one", "mirrored", "multiworker", "tpu"),
    ``strategy`` the ``tf.distribute.Strategy``, ``replicas`` its ``num_replicas_in_sync`` (over
    all workers), ``chief`` whether this process writes the run's files, ``worker`` a label
    ("worker 1 (of 2 tasks)", the task index from 0) or "" outside multi-worker runs."""

    name: str
    strategy: Any
    replicas: int
    chief: bool = True
    worker: str = ""

    def describe(self) -> str:
        """One phrase for the run header: ``mirrored, 2 replicas (/gpu:0, /gpu:1)``."""
        devices = ()
        if self.name == "mirrored":  # (the default strategy's extended has no device list)
            devices = getattr(getattr(self.strategy, "extended", None), "worker_devices", ())
        where = f" ({', '.join(devices)})" if devices else ""
        role = f", {self.worker}{' (chief)' if self.chief else ''}" if self.worker else ""
        return (
            f"{self.name}, {self.replicas} replica{'s' if self.replicas > 1 else ''}{where}{role}"
        )


def resolve_name(name: str, gpu_count: int) -> str:
    """The strategy kind ``name`` stands for on a machine with ``gpu_count`` visible GPUs:
    ``auto`` -> ``mirrored`` when ``gpu_count > 1``, else ``one``; other names are themselves.
    ConfigError for a name outside ``STRATEGY_NAMES``."""
    if name not in STRATEGY_NAMES:
        raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGY_NAMES)}")
    if name == "auto":
        return "mirrored" if int(gpu_count) > 1 else "one"
    return name


def chief_of(task_type: str | None, task_id: int | None, cluster: dict) -> bool:
    """Whether a multi-worker task writes the run's files: the ``chief`` task, else ``worker`` 0
    when the cluster has no chief; a task without a type (no cluster) is its own chief."""
    if task_type in (None, "", "chief"):
        return True
    return task_type == "worker" and int(task_id or 0) == 0 and "chief" not in cluster


def tf_config() -> dict:
    """``TF_CONFIG`` parsed: ``{"cluster": {"worker": [host:port, ...], ...}, "task": {"type",
    "index"}}``. ConfigError when it is missing, not JSON or without a cluster and task."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise ConfigError(
            "--strategy multiworker needs TF_CONFIG: set it on every worker to "
            '{"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", '
            '"index": I}} (Vertex AI sets it for you)'
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not value.get("cluster") or not value.get("task"):
        raise ConfigError(f"TF_CONFIG needs a 'cluster' and a 'task': {text[:200]}")
    return value


def tpu_address() -> str | None:
    """Where a TPU is, found without any network call: ``TPU_NAME`` (a Cloud TPU's name or
    grpc address), ``"local"`` on a TPU VM (``/dev/accel*`` or ``/dev/vfio/<n>`` devices), else
    None."""
    name = os.environ.get("TPU_NAME", "").strip()
    if name:
        return name
    if glob.glob("/dev/accel[0-9]*") or glob.glob("/dev/vfio/[0-9]*"):
        return "local"
    return None


def _tpu_strategy():
    """TPUClusterResolver + TPUStrategy (untested here: no TPU), or ConfigError."""
    address = tpu_address()
    if address is None:
        raise ConfigError(
            "--strategy tpu: no TPU found (TPU_NAME is not set and there is no /dev/accel* or "
            "/dev/vfio TPU device); on this machine use auto, one, mirrored or multiworker"
        )
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as exc:
        raise ConfigError(
            f"--strategy tpu: the TPU at {address!r} could not be used: {exc}"
        ) from exc


def _multiworker():
    """MultiWorkerMirroredStrategy from TF_CONFIG, with this task's chief flag and label."""
    spec = tf_config()
    import tensorflow as tf

    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except (RuntimeError, ValueError) as exc:  # e.g. TensorFlow already started its devices
        raise ConfigError(
            f"--strategy multiworker could not start: {exc} (it must be built before any other "
            "TensorFlow op: fashion_mrcnn.model.distribute.build('multiworker') first)"
        ) from exc
    task = spec["task"]
    cluster = spec["cluster"]
    chief = chief_of(task.get("type"), task.get("index"), cluster)
    tasks = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    label = f"{task.get('type')} {task.get('index', 0)} (of {tasks} tasks)"
    return strategy, chief, label


def build(name: str = "auto") -> Distribution:
    """The :class:`Distribution` for strategy ``name`` (module docstring). Builds TensorFlow's
    strategy, so ``multiworker`` must come before any other TensorFlow op. ConfigError for an
    unknown name, ``tpu`` without a TPU, ``multiworker`` without TF_CONFIG."""
    if name not in STRATEGY_NAMES:
        resolve_name(name, 0)  # raises, naming the choices
    if name == "tpu":
        strategy = _tpu_strategy()
        return Distribution("tpu", strategy, int(strategy.num_replicas_in_sync))
    if name == "multiworker":
        strategy, chief, label = _multiworker()
        return Distribution(
            "multiworker", strategy, int(strategy.num_replicas_in_sync), chief, label
        )
    import tensorflow as tf

    kind = resolve_name(name, len(tf.config.list_physical_devices("GPU")))
    if kind == "one":
        return Distribution("one", tf.distribute.get_strategy(), 1)
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    return Distribution("mirrored", strategy, int(strategy.num_replicas_in_sync))


def multi_worker(strategy) -> bool:
    """Whether ``strategy`` is a MultiWorkerMirroredStrategy over more than one worker (its
    TF_CONFIG cluster has several chief / worker tasks): Keras reduces a step's outputs across
    workers differently then (``training.MaskRCNNTrainer`` adapts to it)."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker")) > 1


def config_for(config, distribution: Distribution):
    """``config`` with GPU_COUNT = the replica count (so BATCH_SIZE = IMAGES_PER_GPU x replicas,
    the global batch) and, on a TPU, JIT_COMPILE with ROI_ALIGN "xla" (the graph XLA compiles);
    the same object when nothing changes."""
    changes = {}
    if int(config.GPU_COUNT) != distribution.replicas:
        changes["GPU_COUNT"] = distribution.replicas
    if distribution.name == "tpu" and not config.JIT_COMPILE:
        changes.update(JIT_COMPILE=True, ROI_ALIGN="xla")
    return config.replace(**changes) if changes else config


def batch_rule(config, distribution: Distribution) -> str:
    """The run header's line on the strategy, the global batch and the learning rate, e.g.
    ``strategy mirrored, 2 replicas: global batch 4 = IMAGES_PER_GPU 2 x 2 replicas; learning
    rate 0.02 on the mean gradient of the global batch, not scaled with the replicas``."""
    return (
        f"strategy {distribution.describe()}: global batch {config.BATCH_SIZE} = IMAGES_PER_GPU "
        f"{config.IMAGES_PER_GPU} x {distribution.replicas} replica"
        f"{'s' if distribution.replicas > 1 else ''}; learning rate {config.LEARNING_RATE:g} on "
        "the mean gradient of the global batch, not scaled with the replicas"
    )


def check_workers_agree(distribution: Distribution, value: float, what: str) -> None:
    """Under ``multiworker``, ConfigError on every worker when the workers hold different
    ``value``s (e.g. the epoch a resume starts at): the replicas sum ``value`` and ``value**2``;
    a spread above zero means they differ. Every worker must call it (a collective op). Other
    strategies: nothing to check."""
    if distribution.name != "multiworker":
        return
    import tensorflow as tf

    strategy = distribution.strategy

    @tf.function
    def moments():
        def replica():
            v = tf.constant(float(value), tf.float32)
            return tf.stack([v, v * v])

        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica), axis=None)

    total, squares = (float(x) for x in moments().numpy())
    n = distribution.replicas
    mean = total / n
    if squares / n - mean * mean > 1e-6 * max(1.0, mean * mean):
        raise ConfigError(
            f"the workers disagree on {what}: this one ({distribution.worker}) has {value:g}, "
            f"their mean is {mean:g}. Every worker must read the chief's run folder (--out on "
            "a shared file system) to resume"
        )
