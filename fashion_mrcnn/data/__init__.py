"""Data layer: records -> ``Dataset``; loaders (iMaterialist CSV, COCO JSON, VOC XML, synthetic),
file formats (``formats``: Kaggle RLE and CSV tables, the COCO RLE bridge, TFRecord, VOC
TFRecord export), image IO, the shard cache (``cache``), sampling, augmentation, RPN targets and
the ``tf.data`` training pipeline.

Never imports ``evaluation``, ``viz`` or ``workflow``. Kept import-light: import the submodules
you need, e.g. ``from fashion_mrcnn.data.formats import rle``.
"""
