"""Training machinery: the trainer model (custom train/test steps), LR schedules, callbacks.

:class:`MaskRCNNTrainer` wraps the functional training graph. Its ``train_step`` computes the
five Matterport losses (``model.losses``) weighted by LOSS_WEIGHTS plus Matterport's L2 weight
decay (``WEIGHT_DECAY * sum(w^2) / size(w)`` over trainable non-norm weights), divides by the
number of replicas under ``tf.distribute`` and supports a ``LossScaleOptimizer`` (mixed
precision). ``keras.metrics.Mean`` trackers named ``loss``, ``rpn_class_loss``, ...,
``mrcnn_mask_loss``, ``l2_loss`` feed the progress bar, ``History``, TensorBoard and CSVLogger.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np
import tensorflow as tf

from fashion_mrcnn.model.weights import save_checkpoint

LOSS_NAMES = (
    "rpn_class_loss",
    "rpn_bbox_loss",
    "mrcnn_class_loss",
    "mrcnn_bbox_loss",
    "mrcnn_mask_loss",
)


def compute_losses(outputs: dict, batch: dict) -> dict:
    """The five losses (scalars) from the training graph's output dict and the batch it ran on
    (the RPN targets ``input_rpn_match`` [B, A] and ``input_rpn_bbox`` [B, R, 4] come from the
    batch: the graph does not read them)."""
    from fashion_mrcnn.model import losses as L

    rpn_match = batch["input_rpn_match"]
    return {
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


def graph_input_names(graph: keras.Model) -> list[str]:
    """The input names of a functional graph (a batch dict may hold more keys: the targets)."""
    return [t.name.split(":")[0] for t in graph.inputs]


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class MaskRCNNTrainer(keras.Model):
    """Keras model training the functional Mask R-CNN ``graph`` with the Matterport losses.

    ``graph``: the training graph (``graph.build_training_graph``); its weights are this model's
    weights. Data: batches ``(inputs,)`` from ``data.pipeline.make_dataset``.
    """

    def __init__(self, graph: keras.Model, config, **kwargs):
        super().__init__(name=kwargs.pop("name", "mask_rcnn_trainer"), **kwargs)
        self.graph = graph
        self.graph_inputs = graph_input_names(graph)
        self.config = config
        self.loss_weights = {k: float(config.LOSS_WEIGHTS.get(k, 1.0)) for k in LOSS_NAMES}
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss",) + LOSS_NAMES + ("l2_loss",)
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
        total = tf.add_n([self.loss_weights[k] * losses[k] for k in LOSS_NAMES])
        losses["loss"] = total + losses["l2_loss"]
        return losses

    def _update(self, losses):
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

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

    def get_config(self):
        raise NotImplementedError("MaskRCNNTrainer is rebuilt from a Config by MaskRCNN")


class LearningRateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``kind`` "constant" | "cosine" (to 0 over ``total_steps``) | "step" (x0.1 at 70% and 90%
    of ``total_steps``), after a linear warm-up from 0 over ``warmup_steps``. Steps count from the
    start of one ``train`` call."""

    def __init__(self, base_lr: float, total_steps: int, kind: str = "constant", warmup_steps=0):
        self.base_lr = float(base_lr)
        self.total_steps = max(int(total_steps), 1)
        self.kind = kind
        self.warmup_steps = int(warmup_steps)
        if kind not in ("constant", "cosine", "step"):
            raise ValueError(f"LR_SCHEDULE must be constant, cosine or step, got {kind!r}")

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        total = float(self.total_steps)
        if self.kind == "cosine":
            frac = tf.minimum(step / total, 1.0)
            lr = 0.5 * self.base_lr * (1.0 + tf.cos(math.pi * frac))
        elif self.kind == "step":
            lr = self.base_lr * tf.where(
                step >= 0.9 * total, 0.01, tf.where(step >= 0.7 * total, 0.1, 1.0)
            )
        else:
            lr = tf.constant(self.base_lr, tf.float32)
        if self.warmup_steps > 0:
            lr = lr * tf.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
        return lr

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "kind": self.kind,
            "warmup_steps": self.warmup_steps,
        }


def make_optimizer(config, learning_rate: float, total_steps: int):
    """SGD with momentum LEARNING_MOMENTUM, clipnorm GRADIENT_CLIP_NORM, the LR schedule, and a
    LossScaleOptimizer when MIXED_PRECISION."""
    schedule = LearningRateSchedule(
        learning_rate, total_steps, config.LR_SCHEDULE, config.LR_WARMUP_STEPS
    )
    opt = keras.optimizers.SGD(
        learning_rate=schedule,
        momentum=config.LEARNING_MOMENTUM,
        clipnorm=config.GRADIENT_CLIP_NORM,
    )
    if config.MIXED_PRECISION:
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN / inf loss; the message names the last good checkpoint."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop training at the first batch whose loss is NaN or inf and remember why.

    ``message`` is None while all is well; after a stop it names the epoch / batch and the last
    good checkpoint (``checkpoint.last_saved``), which is never overwritten by the bad weights.
    """

    def __init__(self, checkpoint=None):
        super().__init__()
        self.checkpoint = checkpoint
        self.message = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = {k: float(v) for k, v in logs.items() if not np.isfinite(float(v))}
        if bad and self.message is None:
            last = getattr(self.checkpoint, "last_saved", None)
            self.message = (
                f"non-finite loss at epoch {self.epoch + 1}, batch {batch + 1}: {bad}. Training "
                f"stopped; last good checkpoint: {last or 'none written yet'}. Lower the "
                f"learning rate, check the data (empty or degenerate boxes) or GRADIENT_CLIP_NORM."
            )
            print(self.message)
            self.model.stop_training = True
        if self.checkpoint is not None and self.message is not None:
            self.checkpoint.blocked = True


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save ``weights_model``'s weights after every epoch to ``path_pattern.format(epoch=n)``
    (n 1-based) via a temporary file and ``os.replace``; never after a non-finite loss."""

    def __init__(self, weights_model: keras.Model, path_pattern: str):
        super().__init__()
        self.weights_model = weights_model
        self.path_pattern = path_pattern
        self.last_saved = None
        self.blocked = False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.blocked or not all(np.isfinite(float(v)) for v in logs.values()):
            return
        path = self.path_pattern.format(epoch=epoch + 1)
        save_checkpoint(self.weights_model, path)
        self.last_saved = os.path.abspath(path)
