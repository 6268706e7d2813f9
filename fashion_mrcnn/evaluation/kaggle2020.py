"""The iMaterialist (Fashion) 2020 (FGVC7) Kaggle score: mask IoU and attribute F1, jointly.

Inputs are the 2019 tables with the 2020 layout: ``ClassId`` is the bare category and an
``AttributesIds`` column holds the instance's attribute ids (``"115,136"``, empty when it has
none), on the ground truth and on the predictions.

Rule (FGVC7 evaluation page, as quoted in ``../shared/REFERENCE.md`` section 4): the thresholds
``t`` = 0.50, 0.55, ..., 0.95 are swept for IoU and attribute F1 *together*; at ``t`` a predicted
mask is a hit for a ground-truth mask of its category when

- their mask IoU is ``> t``, and
- if the ground truth has attributes, the F1 of the predicted against the true attribute sets
  (``2 |P & G| / (|P| + |G|)``; 0 when the prediction has none) is ``> t``. A ground truth
  without attributes is matched on IoU alone, whatever attributes the prediction carries.

Equivalently a pair matches at ``t`` when ``min(IoU, F1) > t``, with F1 taken as 1 for a ground
truth without attributes: this module computes that per-pair number and hands it to the 2019
scorer (:func:`fashion_mrcnn.evaluation.kaggle.score_masks`), so matching (one-to-one, maximum),
``TP / (TP + FP + FN)`` per threshold, and the averaging (thresholds -> (image, category) groups ->
images) are the 2019 ones. Two points the stored sources leave open and this scorer decides:
the per-threshold precision counts false negatives (the page's prose lists TP, FP and FN, like
DSB-2018, while one copy of its formula shows ``TP / (TP + FP)``), and groups are per (image,
category) as in the project's 2019 scorer. Both are to be checked against Kaggle (**[verify]**).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fashion_mrcnn.evaluation.kaggle import THRESHOLDS, load_masks, score_masks


def attribute_f1(pred: Sequence[frozenset], gt: Sequence[frozenset]) -> np.ndarray:
    """Per-pair attribute condition of the 2020 metric.

    Args:
        pred: P attribute-id sets of the predicted masks.
        gt: G attribute-id sets of the ground-truth masks.

    Returns:
        float64 [P, G]: ``2 |p & g| / (|p| + |g|)`` where ``g`` is non-empty; 1.0 in the columns of
        ground truths without attributes (no attribute condition: ``min(IoU, 1) = IoU``).
    """
    out = np.ones((len(pred), len(gt)), dtype=np.float64)
    for j, g in enumerate(gt):
        if not g:
            continue
        for i, p in enumerate(pred):
            out[i, j] = 2.0 * len(p & g) / (len(p) + len(g))
    return out


def kaggle_metric_2020(
    gt,
    pred,
    return_details: bool = False,
    pred_size=None,
    thresholds=THRESHOLDS,
    allow_empty_predictions: bool = True,
):
    """iMaterialist 2020 (FGVC7) score of a prediction table against a ground-truth table.

    Args:
        gt: DataFrame or CSV path with ``ImageId, EncodedPixels, Height, Width, ClassId,
            AttributesIds`` (ClassId = category only), or a ``KaggleGroundTruth`` from
            ``kaggle.load_ground_truth(gt, 2020, pred_size)``, not decoded again.
        pred: DataFrame or CSV path with ``ImageId, EncodedPixels, ClassId, AttributesIds``.
        return_details, pred_size, thresholds, allow_empty_predictions: as in
            :func:`fashion_mrcnn.evaluation.kaggle.kaggle_metric`; ``thresholds`` serve IoU and F1
            alike.

    Returns:
        The score in [0, 1], or ``(score, details)`` (the 2019 details: ``per_image``,
        ``per_class`` keyed by category, ``groups``).

    Raises:
        FashionDataError naming file, row, image and class: a missing ``AttributesIds`` column, a
        ClassId with 2019 ``_<attr>`` suffixes, unparseable AttributesIds, and every error of the
        2019 scorer.
    """
    masks = load_masks(gt, pred, 2020, pred_size, allow_empty_predictions)
    return score_masks(masks, thresholds, gate=attribute_f1, return_details=return_details)
