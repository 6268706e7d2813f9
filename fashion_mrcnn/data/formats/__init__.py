"""File formats of the data layer, each in its own module.

- :mod:`.rle`: Kaggle run-length encoding (numpy codec, TensorFlow batch decoder);
- :mod:`.coco_rle`: the bridge between Kaggle RLE and COCO RLE (pycocotools), both directions;
- :mod:`.kaggle_csv`: the Kaggle iMaterialist CSV tables: columns, the ``ClassId`` grammar, the
  2019 / 2020 layouts;
- :mod:`.tfrecord`: generic ``tf.train.Example`` builders and TFRecord reading / writing;
- :mod:`.voc_tfrecord`: the TF Object Detection API export of a VOC CSV and its label map;
- :mod:`.json_file`: reading a JSON file with errors that name it.
"""
