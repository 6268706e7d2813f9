"""What the ``score`` and ``evaluate`` commands print about the Kaggle metric.

- :func:`attribute_policy_table`: the 2019 score of one prediction table under the three attribute
  policies of a submission (``fashion_mrcnn.submission``), side by side, from one decoding of the
  masks:

  ============================= ================================= =============================
  policy                        predictions                        ground truth
  ============================= ================================= =============================
  ``keep``                      as given                          as given (Kaggle's score)
  ``strip``                     ClassId without ``_<attr>``       ClassId without ``_<attr>``
  ``drop_attribute_categories`` stripped, and rows of the         as given (Kaggle's score of
                                attribute-bearing categories      such a submission)
                                (``ATTRIBUTE_CATEGORIES``) removed
  ============================= ================================= =============================

  ``strip`` scores the masks and categories alone (what the score would be if attributes were
  always right); ``drop_attribute_categories`` is the 1st-place trick: never predicting a category
  whose ground truth may carry attributes, since a bare ClassId there costs a FP and a FN.
- :func:`score_files`: the ``score`` command's printout for the 2019 or the 2020 metric.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from fashion_mrcnn.constants import ATTRIBUTE_POLICIES, KAGGLE_METRICS
from fashion_mrcnn.data.categories import ATTRIBUTE_CATEGORIES
from fashion_mrcnn.data.formats.kaggle_csv import pred_columns, split_class_id
from fashion_mrcnn.data.formats.rle import parse_runs
from fashion_mrcnn.errors import ConfigError, RLEError
from fashion_mrcnn.evaluation.kaggle import (
    THRESHOLDS,
    ImageMasks,
    KaggleMasks,
    _where,
    load_masks,
    read_kaggle_csv,
    score_masks,
)
from fashion_mrcnn.evaluation.kaggle2020 import kaggle_metric_2020

log = logging.getLogger(__name__)
#: Mask size assumed for a prediction row whose image has no ground truth (and no --pred-size):
#: large enough that only the structure of its runs is checked, small enough not to overflow.
_UNKNOWN_SIZE = (1, 2**61)


def _category(class_id: str) -> str:
    """``"10_1_2"`` -> ``"10"``."""
    return split_class_id(class_id)[0]


def _relabel(side: dict[str, ImageMasks], strip: bool, drop: frozenset[int]):
    """A copy of one side's masks with ClassIds stripped and / or categories in ``drop`` removed
    (the RLEs are shared, not copied)."""
    out = {}
    for image_id, m in side.items():
        keep = [i for i, c in enumerate(m.classes) if int(_category(c)) not in drop]
        out[image_id] = ImageMasks(
            [_category(m.classes[i]) if strip else m.classes[i] for i in keep],
            [m.rles[i] for i in keep],
            [m.attributes[i] for i in keep],
        )
    return out


def _policy_variant(masks: KaggleMasks, policy: str, drop: frozenset[int]):
    """``(masks as scored, what happens to predictions, to ground truth)`` for one policy."""
    if policy == "keep":
        return masks, "as given", "as given"
    if policy == "strip":
        gt, pred = _relabel(masks.gt, True, frozenset()), _relabel(masks.pred, True, frozenset())
        return KaggleMasks(gt, pred, masks.pred_images_not_in_gt), "stripped", "stripped"
    if policy == "drop_attribute_categories":
        pred = _relabel(masks.pred, True, drop)
        variant = KaggleMasks(masks.gt, pred, masks.pred_images_not_in_gt)
        return variant, "stripped, attribute categories dropped", "as given"
    raise ValueError(f"no scoring rule for attribute policy {policy!r}")


def policy_table_of_masks(
    masks: KaggleMasks,
    thresholds=THRESHOLDS,
    attribute_categories: Iterable[int] = ATTRIBUTE_CATEGORIES,
) -> pd.DataFrame:
    """:func:`attribute_policy_table` of masks already decoded by ``kaggle.load_masks``."""
    drop = frozenset(int(c) for c in attribute_categories)
    rows = []
    for policy in ATTRIBUTE_POLICIES:
        variant, pred_rule, gt_rule = _policy_variant(masks, policy, drop)
        n_pred = sum(len(m.rles) for m in variant.pred.values())
        rows.append((policy, pred_rule, gt_rule, n_pred, score_masks(variant, thresholds)))
    table = pd.DataFrame(rows, columns=["policy", "predictions", "ground_truth", "n_pred", "score"])
    return table.set_index("policy")


def attribute_policy_table(
    gt,
    pred,
    pred_size=None,
    thresholds=THRESHOLDS,
    attribute_categories: Iterable[int] = ATTRIBUTE_CATEGORIES,
    allow_empty_predictions: bool = True,
) -> pd.DataFrame:
    """The 2019 score under each attribute policy (module docstring), masks decoded once.

    Args:
        gt, pred, pred_size, thresholds, allow_empty_predictions: as in
            :func:`fashion_mrcnn.evaluation.kaggle.kaggle_metric` (2019 layout).
        attribute_categories: the categories ``drop_attribute_categories`` removes.

    Returns:
        DataFrame indexed by policy (``keep``, ``strip``, ``drop_attribute_categories``) with
        columns ``predictions`` / ``ground_truth`` (what the policy does to each side),
        ``n_pred`` (predicted masks scored) and ``score``.
    """
    masks = load_masks(gt, pred, 2019, pred_size, allow_empty_predictions)
    return policy_table_of_masks(masks, thresholds, attribute_categories)


def score_files(gt_csv, pred_csv, pred_size=None, top: int | None = 30, metric: str = "2019"):
    """Score two Kaggle CSV files, print the breakdown, return the score (the ``score`` command).

    ``metric`` ``"2019"``: the attribute-policy table, then the per-class table of the predictions
    as given; the returned score is the ``keep`` row (Kaggle's). ``"2020"``: the FGVC7 score
    (:func:`~fashion_mrcnn.evaluation.kaggle2020.kaggle_metric_2020`) and its per-class table.

    Raises:
        ConfigError: an unknown ``metric``.
        FashionDataError: an empty or header-only prediction file, predictions without an ImageId
            in common with the ground truth, and every error of the scorers.
    """
    if metric not in KAGGLE_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(KAGGLE_METRICS)}")
    if metric == "2020":
        score, details = kaggle_metric_2020(
            gt_csv, pred_csv, True, pred_size, allow_empty_predictions=False
        )
    else:
        masks = load_masks(gt_csv, pred_csv, 2019, pred_size, allow_empty_predictions=False)
        score, details = score_masks(masks, return_details=True)
        table = policy_table_of_masks(masks)
        print("iMaterialist 2019 score by attribute policy:")
        print(table.to_string(float_format=lambda v: f"{v:.5f}"))
    ignored = details["pred_images_not_in_gt"]
    malformed_ignored_rows(pred_csv, ignored, int(metric), pred_size)
    print(f"iMaterialist {metric} score: {score:.5f} over {len(details['per_image'])} images")
    shown = details["per_class"] if top is None else details["per_class"].head(top)
    if len(shown):
        print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    return score


def malformed_ignored_rows(pred, image_ids, layout: int = 2019, pred_size=None) -> list[str]:
    """Name the malformed ``EncodedPixels`` of prediction rows on ``image_ids`` (images without
    ground truth, whose rows the score leaves out unread): one warning for them all.

    Their runs are parsed (``data.formats.rle.parse_runs``: token count, digits, start and
    length >= 1, increasing, no overlap) at ``pred_size`` when given, else with no size check
    (the image's size is unknown). ``pred``: the prediction CSV path or frame. Returns the
    problems, one ``"<file> line <n> (image, class): <problem>"`` each.
    """
    if not len(image_ids):
        return []
    df, label, is_file = read_kaggle_csv(pred, pred_columns(layout), "predictions", layout)
    rows = df["ImageId"].isin(set(image_ids)).to_numpy() & (df["EncodedPixels"] != "").to_numpy()
    h, w = pred_size if pred_size is not None else _UNKNOWN_SIZE
    problems = []
    for i in np.flatnonzero(rows):
        try:
            parse_runs(df["EncodedPixels"].iat[i], int(h), int(w))
        except RLEError as exc:
            problems.append(f"{_where(label, is_file, int(i), df)}: {exc}")
    if problems:
        log.warning(
            "%d prediction rows on images not in the ground truth (left out of the score) have "
            "malformed EncodedPixels, e.g. %s",
            len(problems),
            problems[0],
        )
    return problems
