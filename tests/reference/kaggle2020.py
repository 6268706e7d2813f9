"""Brute-force reference of the iMaterialist 2020 (FGVC7) score, written from the rule alone.

Plain Python loops on boolean masks; shares no code with ``fashion_mrcnn.evaluation``: IoU is
counted pixel by pixel, the attribute F1 from sets, and the one-to-one matching is the largest
over every assignment (exponential: keep cases small).
"""

from __future__ import annotations

THRESHOLDS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def _iou(a, b) -> float:
    inter = union = 0
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist()):
        inter += x and y
        union += x or y
    return inter / union if union else 0.0


def _f1(pred_attrs, gt_attrs) -> float:
    p, g = set(pred_attrs), set(gt_attrs)
    return 2 * len(p & g) / (len(p) + len(g))


def _largest_matching(hit, n_pred, n_gt, i=0, used=frozenset()) -> int:
    """Largest number of disjoint (pred, gt) pairs with ``hit[i][j]``, trying every choice."""
    if i == n_pred:
        return 0
    best = _largest_matching(hit, n_pred, n_gt, i + 1, used)  # prediction i left unmatched
    for j in range(n_gt):
        if hit[i][j] and j not in used:
            best = max(best, 1 + _largest_matching(hit, n_pred, n_gt, i + 1, used | {j}))
    return best


def score_2020(gt_rows, pred_rows, thresholds=THRESHOLDS) -> float:
    """The 2020 score of predictions against ground truth.

    Args:
        gt_rows, pred_rows: lists of ``(image_id, mask bool [H, W], category str, attribute ids)``.

    Rule: per image and category, at each ``t`` a (pred, gt) pair is a hit when IoU > t and, if
    the gt has attributes, F1 > t; TP = largest one-to-one set of hits; the group scores the mean
    over ``t`` of TP / (TP + FP + FN); an image the mean over its groups (categories in its gt or
    its predictions); the score the mean over gt images that have any group.
    """
    image_scores = []
    for image in sorted({r[0] for r in gt_rows}):
        gts = [r for r in gt_rows if r[0] == image]
        preds = [r for r in pred_rows if r[0] == image]
        group_scores = []
        for cat in sorted({r[2] for r in gts} | {r[2] for r in preds}):
            g = [r for r in gts if r[2] == cat]
            p = [r for r in preds if r[2] == cat]
            per_t = []
            for t in thresholds:
                hit = [
                    [_iou(pr[1], gr[1]) > t and (not gr[3] or _f1(pr[3], gr[3]) > t) for gr in g]
                    for pr in p
                ]
                tp = _largest_matching(hit, len(p), len(g))
                per_t.append(tp / (len(p) + len(g) - tp))
            group_scores.append(sum(per_t) / len(per_t))
        if group_scores:
            image_scores.append(sum(group_scores) / len(group_scores))
    return sum(image_scores) / len(image_scores) if image_scores else 0.0
