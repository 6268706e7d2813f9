"""Slow, plain numpy references the tests compare the engine with (test oracles, not shipped).

One module per engine module: :mod:`.losses` (``model.losses``), :mod:`.proposal`,
:mod:`.detection`, :mod:`.pyramid_roi_align` and :mod:`.detection_target` (the layers). Each
follows its layer's docstring step by step, one image at a time. :mod:`.kaggle2020` scores the
iMaterialist 2020 metric by brute force from its rule (``evaluation.kaggle2020``).
"""
