"""Pure functions on boxes, anchors, masks and images; a numpy reference beside each TF op.

Modules: ``boxes`` (IoU, deltas, clipping, normalisation), ``anchors``, ``nms``, ``roi_align``,
``masks``, ``image`` (resize / mold / image meta), ``transform`` (the molded <-> original image
mapping, both directions), ``transform_tf`` (its TensorFlow twins, for the serving graph; the
numpy twins are ``transform``'s), ``resize_tf`` (the serving graphs' square resize from ops
TensorFlow Lite converts), ``shapes`` (static shapes without a run-time check). TensorFlow is imported only inside the ``*_tf`` functions, so the
numpy helpers load without it.
"""
