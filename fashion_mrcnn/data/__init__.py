"""Data layer: RLE codec, loaders (iMaterialist CSV, COCO JSON), records, Dataset, image IO, stats.

Kept import-light: import the submodules you need, e.g. ``from fashion_mrcnn.data import rle``.
"""
