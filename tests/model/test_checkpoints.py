"""model.checkpoints: Matterport's log-dir and checkpoint names, read back."""

from fashion_mrcnn.model.checkpoints import checkpoint_epoch


def test_checkpoint_epoch_reads_our_checkpoint_names():
    assert checkpoint_epoch("/r/logs/fashion20261123T1342/mask_rcnn_fashion_0002.h5") == 2
    assert checkpoint_epoch("mask_rcnn_fashion_tune_0012.weights.h5") == 12
    assert checkpoint_epoch("/w/mask_rcnn_coco.h5") == 0
    assert checkpoint_epoch("resnet50_imagenet.h5") == 0
