"""Training machinery: the trainer model (custom train/test steps), LR schedules, callbacks.

:class:`MaskRCNNTrainer` wraps the functional training graph. Its ``train_step`` computes the
five Matterport losses (``model.losses``) weighted by LOSS_WEIGHTS plus Matterport's L2 weight
decay (``WEIGHT_DECAY * sum(w^2) / size(w)`` over trainable non-norm weights), divides by the
number of replicas under ``tf.distribute`` and supports a ``LossScaleOptimizer`` (mixed
precision). ``keras.metrics.Mean`` trackers named ``loss``, ``rpn_class_loss``, ...,
``mrcnn_mask_loss``, ``l2_loss`` feed the progress bar, ``History``, TensorBoard and CSVLogger.

Callbacks: :class:`LogLearningRate` logs the schedule's rate per epoch, :class:`StepTimer` the
median step time; the divergence guard and the checkpoints it vets are ``model.guard``'s.

:func:`fit_stage` runs one ``MaskRCNN.train`` call: the input pipelines, the trainer, the
callbacks, ``fit``, and the checkpoints vetted after a stop.

Under ``tf.distribute`` the model and trainer are built in the strategy's scope (``MaskRCNN``);
with several workers (``model.distribute.multi_worker``) the trainer works around two Keras
multi-worker reductions that cannot take its dict inputs or scalar logs (see the methods).
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf

from fashion_mrcnn.constants import ATTRIBUTE_LOSS, LOSS_NAMES, TRAINING_LOG
from fashion_mrcnn.model import guard as G
from fashion_mrcnn.model.distribute import multi_worker
from fashion_mrcnn.model.finite import is_non_finite_boxes
from fashion_mrcnn.model.optimizer import ClippedMomentumSGD
from fashion_mrcnn.model.precision import needs_loss_scaling
from fashion_mrcnn.model.schedule import LearningRateSchedule


def compute_losses(outputs: dict, batch: dict) -> dict:
    """The five losses (scalars) from the training graph's output dict and the batch it ran on
    (the RPN targets ``input_rpn_match`` [B, A] and ``input_rpn_bbox`` [B, R, 4] come from the
    batch: the graph does not read them); plus ``mrcnn_attr_loss`` when the graph has the
    attribute head."""
    from fashion_mrcnn.model import losses as L

    rpn_match = batch["input_rpn_match"]
    losses = {
        "rpn_class_loss": L.rpn_class_loss(rpn_match, outputs["rpn_class_logits"]),
        "rpn_bbox_loss": L.rpn_bbox_loss(batch["input_rpn_bbox"], rpn_match, outputs["rpn_bbox"]),
        "mrcnn_class_loss": L.mrcnn_class_loss(
            outputs["target_class_ids"], outputs["mrcnn_class_logits"], outputs["active_class_ids"]
        ),
        "mrcnn_bbox_loss": L.mrcnn_bbox_loss(
            outputs["target_deltas"], outputs["target_class_ids"], outputs["mrcnn_bbox"]
        ),
        "mrcnn_mask_loss": L.mrcnn_mask_loss(
            outputs["target_masks"],
            outputs["mask_target_class_ids"],
            outputs["mrcnn_mask"],
            outputs["target_mask_valid"],
        ),
    }
    if "mrcnn_attr_logits" in outputs:
        losses[ATTRIBUTE_LOSS] = L.mrcnn_attr_loss(
            outputs["target_attributes"],
            outputs["target_attribute_weight"],
            outputs["target_class_ids"],
            outputs["mrcnn_attr_logits"],
        )
    return losses


def graph_input_names(graph: keras.Model) -> list[str]:
    """The input names of a functional graph (a batch dict may hold more keys: the targets)."""
    return [t.name.split(":")[0] for t in graph.inputs]


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class MaskRCNNTrainer(keras.Model):
    """Keras model training the functional Mask R-CNN ``graph`` with the Matterport losses.

    ``graph``: the training graph (``graph.build_training_graph``); its weights are this model's
    weights. Data: batches ``(inputs,)`` from ``data.pipeline.make_dataset``.

    Besides the losses, the logs carry ``positive_rois``: the mean number of positive RoIs per
    image among the TRAIN_ROIS_PER_IMAGE sampled (at most ``graph.positive_slots``), and
    ``mask_rois``: the RoIs per image the mask head's convolutions ran on (the positives, or
    one row of the batch when there is none: ``graph`` output ``mask_head_rows``; under
    JIT_COMPILE every positive slot, ``graph.positive_slots``).
    """

    def __init__(self, graph: keras.Model, config, **kwargs):
        super().__init__(name=kwargs.pop("name", "mask_rcnn_trainer"), **kwargs)
        self.graph = graph
        self.graph_inputs = graph_input_names(graph)
        self.config = config
        # the attribute head's loss is logged (and weighted) only for a model with the head
        self.loss_names = LOSS_NAMES + ((ATTRIBUTE_LOSS,) if config.NUM_ATTRIBUTES else ())
        self.loss_weights = {k: float(config.LOSS_WEIGHTS.get(k, 1.0)) for k in self.loss_names}
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss",) + self.loss_names + ("l2_loss", "positive_rois", "mask_rois")
        }

    def call(self, inputs, training=False):
        return self.graph({k: inputs[k] for k in self.graph_inputs}, training=training)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _mrcnn_losses(self, inputs, training):
        inputs = inputs[0] if isinstance(inputs, tuple | list) else inputs
        outputs = self.call(inputs, training=training)
        losses = compute_losses(outputs, inputs)
        losses = {k: tf.cast(v, tf.float32) for k, v in losses.items()}
        from fashion_mrcnn.model.losses import l2_regularization

        losses["l2_loss"] = l2_regularization(self.trainable_variables, self.config.WEIGHT_DECAY)
        total = tf.add_n([self.loss_weights[k] * losses[k] for k in self.loss_names])
        losses["loss"] = total + losses["l2_loss"]
        positive = tf.cast(outputs["target_class_ids"] > 0, tf.float32)  # [B, T]
        losses["positive_rois"] = tf.reduce_mean(tf.reduce_sum(positive, axis=1))
        rows = tf.reduce_sum(tf.cast(outputs["mask_head_rows"], tf.float32))
        if self.config.JIT_COMPILE:  # fixed shapes: the head ran on every positive slot
            rows = tf.cast(tf.size(outputs["mask_head_rows"]), tf.float32)
        losses["mask_rois"] = rows / tf.cast(tf.shape(positive)[0], tf.float32)
        return losses

    def _update(self, losses):
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])
        logs = {name: tracker.result() for name, tracker in self.trackers.items()}
        if multi_worker(tf.distribute.get_strategy()):
            # Keras averages a step's logs over the workers along axis 0, which a scalar
            # lacks ("Invalid reduction dimension 0"): give each log that axis; it averages back
            # to a scalar.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            losses = self._mrcnn_losses(data, training=True)
            scaled = losses["loss"] / tf.cast(replicas, tf.float32)
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                scaled = self.optimizer.scale_loss(scaled)
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        self.optimizer.apply_gradients(pairs)
        return self._update(losses)

    def test_step(self, data):
        return self._update(self._mrcnn_losses(data, training=False))

    def batch_losses(self, data) -> dict[str, float]:
        """The losses of the current weights on one batch (inference mode, eager, no tracker
        update): ``{"loss", "rpn_class_loss", ..., "l2_loss", "positive_rois", "mask_rois"}``."""
        return {k: float(v) for k, v in self._mrcnn_losses(data, training=False).items()}

    def get_config(self):
        raise NotImplementedError("MaskRCNNTrainer is rebuilt from a Config by MaskRCNN")

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras (3.15) builds the model from a first batch before ``fit`` / ``evaluate``, and
        under a strategy averages that batch over the replicas first, which a
        ``MultiWorkerMirroredStrategy`` with several workers cannot do for a dict of inputs
        (ValueError: "Attempt to convert a value ({'input_image': PerReplica..."). There, this
        replica's own batch serves (only its shapes are used), taken as Keras takes it."""
        strategy = self.distribute_strategy
        if iterator is not None and multi_worker(strategy):
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0], next(it)
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def make_optimizer(
    config, learning_rate: float, total_steps: int, start_step: int = 0, progress=None
):
    """SGD with momentum LEARNING_MOMENTUM, clipnorm GRADIENT_CLIP_NORM (Keras's SGD update in
    fewer ops: ``model.optimizer``), the LR schedule
    (``total_steps`` long, continuing at ``start_step``; ``progress``: a time budget's
    ``TimeBudget.variable``, see ``model.schedule``), and a LossScaleOptimizer when
    MIXED_PRECISION is float16 (``model.precision``)."""
    schedule = LearningRateSchedule(
        learning_rate,
        total_steps,
        config.LR_SCHEDULE,
        config.LR_WARMUP_STEPS,
        start_step,
        progress=progress,
    )
    opt = ClippedMomentumSGD(
        learning_rate=schedule,
        momentum=config.LEARNING_MOMENTUM,
        clipnorm=config.GRADIENT_CLIP_NORM,
    )
    if needs_loss_scaling(config.MIXED_PRECISION):
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


class LogLearningRate(keras.callbacks.Callback):
    """Add ``learning_rate`` (the rate of the epoch's first step) to the epoch logs, so the
    History, the CSV log and TensorBoard show the schedule."""

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        self.rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.rate


class StepTimer(keras.callbacks.Callback):
    """Add to the epoch logs where the epoch's wall time went: ``step_ms``, the median wall time
    of its training steps in milliseconds, from one batch's end to the next (the first batch of
    each epoch, which may include tracing or the input pipeline's start, is left out when there
    are others); ``val_seconds``, the validation pass (0 when there was none); ``epoch_seconds``,
    the epoch from its start to the end of its validation."""

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = time.perf_counter()
        self._last = None
        self._times: list[float] = []
        self._val_begin = None
        self._val_seconds = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._last is not None:
            self._times.append(now - self._last)
        self._last = now

    def on_test_begin(self, logs=None):
        self._val_begin = time.perf_counter()

    def on_test_end(self, logs=None):
        if self._val_begin is not None:
            self._val_seconds += time.perf_counter() - self._val_begin

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self._times:
            logs["step_ms"] = round(1000.0 * float(np.median(self._times)), 1)
        logs["val_seconds"] = round(self._val_seconds, 2)
        logs["epoch_seconds"] = round(time.perf_counter() - self._begin, 2)


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def fit_stage(
    model,
    train_dataset,
    val_dataset,
    learning_rate: float,
    epochs: int,
    start: int,
    steps: int,
    val_steps: int,
    augmentation=None,
    custom_callbacks=None,
    seed: int = 0,
    verbose: int = 1,
    time_budget=None,
):
    """The fit of one ``MaskRCNN.train`` call, which checks the arguments, sets the trainable
    layers and documents the behaviour (see there).

    ``model``: the ``MaskRCNN`` in training mode, at epoch ``model.epoch``; trains up to the
    cumulative epoch ``epochs`` with ``steps`` / ``val_steps`` steps per epoch, the learning-rate
    schedule having begun at epoch ``start``. Sets ``model.trainer``, ``last_train_steps``,
    ``last_learning_rate``, ``last_checkpoint`` and ``epoch``; returns the Keras ``History``.
    """
    from fashion_mrcnn.data.pipeline import data_error, make_dataset, release_iterators

    data_errors = []
    train_ds = make_dataset(
        train_dataset,
        model.config,
        shuffle=True,
        augmentation=augmentation,
        seed=seed + model.epoch,
        errors=data_errors,
    )
    val_ds = None
    if val_dataset is not None:
        val_ds = make_dataset(
            val_dataset, model.config, shuffle=False, seed=seed, errors=data_errors
        )
    with model._scope():
        model.trainer = MaskRCNNTrainer(model.keras_model, model.config)
        optimizer = make_optimizer(
            model.config,
            learning_rate,
            (epochs - start) * steps,
            (model.epoch - start) * steps,
            progress=time_budget.variable if time_budget is not None else None,
        )
        model.trainer.compile(optimizer=optimizer, jit_compile=bool(model.config.JIT_COMPILE))
    os.makedirs(model.log_dir, exist_ok=True)
    checkpoint = G.AtomicCheckpoint(model.keras_model, model.checkpoint_path, model.last_checkpoint)
    guard = G.DivergenceGuard(checkpoint)
    log_csv = os.path.join(model.log_dir, TRAINING_LOG)
    callbacks = [guard, checkpoint, LogLearningRate(), StepTimer()]
    callbacks += [time_budget] if time_budget is not None else []  # logs before the CSV
    callbacks += [keras.callbacks.CSVLogger(log_csv, append=True)]
    if _has_tensorboard():
        callbacks.append(
            keras.callbacks.TensorBoard(model.log_dir, write_graph=False, profile_batch=0)
        )
    elif verbose:
        print("tensorboard is not installed: TensorBoard logging off (CSV log still written)")
    callbacks += list(custom_callbacks or [])
    print(
        f"\nStarting at epoch {model.epoch}. LR={learning_rate}\nCheckpoint: {model.checkpoint_path}"
    )
    try:
        if model.epoch > 0:  # a run going on: its first batches face the level it reached
            logged = G.logged_losses(log_csv, model.epoch)
            guard.seed(logged or [G.weights_loss(model.trainer, next(iter(train_ds.take(1))))])
        history = model.trainer.fit(
            train_ds,
            initial_epoch=model.epoch,
            epochs=epochs,
            steps_per_epoch=steps,
            validation_data=val_ds,
            validation_steps=val_steps if val_ds is not None else None,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the tf.data pipeline shuffles (seeded)
        )
    except BaseException as exc:  # shut the input pipeline down now, not at exit (hangs)
        non_finite_boxes = is_non_finite_boxes(exc)
        if non_finite_boxes:  # the trainer is kept to vet the checkpoints below
            model.trainer._eval_epoch_iterator = None  # Keras keeps the validation iterator
        else:
            model.trainer = None  # it may hold the validation iterator
        release_iterators(exc)
        if not non_finite_boxes:
            cause = data_error(exc, data_errors)
            if cause is None:
                raise
            raise cause from None  # the bad file / row / image, not a TF traceback
        # A step's proposals held NaN / inf (the RPN's box deltas overflowed): the run
        # diverged within a batch, before the guard saw a loss. A guard stop like any other:
        # the checkpoints are vetted below and the last good one is named.
        history = None
        guard.stop(
            f"non-finite boxes in a training step at epoch {guard.epoch + 1} (RoI Align met "
            "NaN / inf proposals)",
            non_finite=True,
        )
    optimizer = getattr(model.trainer.optimizer, "inner_optimizer", model.trainer.optimizer)
    #: optimizer steps of the last ``train`` call, and the rate its schedule ended at
    model.last_train_steps = int(keras.ops.convert_to_numpy(optimizer.iterations))
    model.last_learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    if guard.reason is not None or (val_ds is None and checkpoint.at_checkpoint):
        # after a stop, or when no validation loss vetted the last epoch's final update
        G.vet_checkpoints(model, checkpoint, guard, train_ds)
    model.last_checkpoint = checkpoint.last_saved
    if guard.reason is not None:
        G.raise_stop(guard, checkpoint)
    # An early stop (a time budget, EarlyStopping) ends before ``epochs``: count what ran.
    model.epoch = model.epoch + len(history.epoch) if history is not None else model.epoch
    return history
