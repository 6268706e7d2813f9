"""The Mask R-CNN model: Matterport's ``MaskRCNN`` API on Keras 3.

- ``maskrcnn.MaskRCNN``: build (training / inference), ``train``, ``detect``, ``load_weights``,
  ``find_last``, ``set_trainable``.
- ``backbone`` (ResNet50/101, MobileNetV2), ``efficientnet_lite`` (EfficientNet-Lite0 and its
  ImageNet weights), ``norm``, ``fpn``, ``rpn``, ``heads``: the graph parts; ``torch_legacy``
  reads legacy torch state_dicts without torch.
- ``graph``: the training and inference graphs; ``trainable``: which layers train (Matterport's
  ``layers=`` presets, ``set_trainable``); ``training``: trainer, LR schedule, callbacks;
  ``losses``: the five Matterport losses; ``weights``: Matterport ``.h5`` loading, checkpoints,
  downloads; ``export``: TF SavedModels (the serving one: image bytes in, instances out);
  ``distribute``: training strategies by name (``train --strategy``) and the global batch /
  learning-rate rule.

Import-light: ``from fashion_mrcnn.model import MaskRCNN`` loads TensorFlow on first use.
"""

from __future__ import annotations

__all__ = ["MaskRCNN", "HEAD_LAYERS", "load_weights", "LoadReport"]


def __getattr__(name):
    if name == "MaskRCNN":
        from fashion_mrcnn.model.maskrcnn import MaskRCNN

        return MaskRCNN
    if name in ("HEAD_LAYERS", "load_weights", "LoadReport"):
        from fashion_mrcnn.model import weights

        return getattr(weights, name)
    raise AttributeError(f"module 'fashion_mrcnn.model' has no attribute {name!r}")
