"""Matterport's ``visualize`` figure API on matplotlib: instances, ground truth against
predictions, image grids, top masks, precision-recall curves and IoU grids.

Every function returns the figure (and axes) and saves a PNG when ``path`` is given; see
:mod:`fashion_mrcnn.viz.canvas` for how figures are created. ``random_colors`` and ``apply_mask``
are here too, under Matterport's names (defined in :mod:`fashion_mrcnn.viz.colors`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_mrcnn.viz.canvas import figure_and_axes, new_figure, save_figure
from fashion_mrcnn.viz.colors import (  # noqa: F401 - Matterport's visualize exports them
    GT_COLOR,
    PRED_COLOR,
    apply_mask,
    class_color,
    random_colors,
)


def display_instances(
    image,
    boxes,
    masks,
    class_ids,
    class_names,
    scores=None,
    title: str = "",
    figsize=(16, 16),
    ax=None,
    show_mask: bool = True,
    show_bbox: bool = True,
    colors=None,
    captions=None,
    path: str | Path | None = None,
):
    """Matterport's ``display_instances``: masks, outlines, dashed boxes and captions.

    Returns ``(fig, ax)``; saves a PNG when ``path`` is given.
    """
    fig, ax = figure_and_axes(figsize, ax)
    boxes = np.zeros((0, 4)) if boxes is None else np.asarray(boxes).reshape(-1, 4)
    n = len(class_ids)
    if masks is not None and np.asarray(masks).shape[-1] != n:
        raise ValueError(f"{n} class ids but masks has shape {np.asarray(masks).shape}")
    cols = colors if colors is not None else [class_color(c) for c in class_ids]
    h, w = np.asarray(image).shape[:2]
    ax.set_ylim(h + 10, -10)
    ax.set_xlim(-10, w + 10)
    ax.axis("off")
    ax.set_title(title)
    canvas = np.asarray(image).astype(np.uint8, copy=True)
    for k in range(n):
        if masks is not None and show_mask:
            canvas = apply_mask(canvas, np.asarray(masks)[:, :, k], cols[k], 0.5)
    ax.imshow(canvas)
    for k in range(n):
        color = cols[k]
        if masks is not None:
            m = np.asarray(masks)[:, :, k].astype(np.uint8)
            if m.any():
                ax.contour(m, levels=[0.5], colors=[color], linewidths=1.2)
        if k < len(boxes) and boxes[k].any():
            y1, x1, y2, x2 = boxes[k]
            if show_bbox:
                from matplotlib.patches import Rectangle

                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=0.7,
                                       linestyle="dashed", edgecolor=color, facecolor="none"))  # fmt: skip
            if captions is not None:
                caption = captions[k]
            else:
                caption = str(class_names[class_ids[k]])
                if scores is not None:
                    caption += f" {float(scores[k]):.3f}"
            ax.text(x1, y1, caption, color="w", size=10, va="bottom",
                    bbox={"facecolor": color, "alpha": 0.7, "pad": 1.5, "edgecolor": "none"})  # fmt: skip
    save_figure(fig, path)
    return fig, ax


def display_differences(
    image,
    gt_box,
    gt_class_id,
    gt_mask,
    pred_box,
    pred_class_id,
    pred_score,
    pred_mask,
    class_names,
    title: str = "",
    ax=None,
    show_mask: bool = True,
    show_box: bool = True,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
    path: str | Path | None = None,
):
    """Ground truth (green) and predictions (red) on one image; predictions are captioned
    ``"name score / IoU"`` with the IoU of their match (or best overlap). Returns (fig, ax)."""
    from fashion_mrcnn.evaluation.matching import compute_matches

    gt_match, pred_match, overlaps = compute_matches(
        gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
    )  # fmt: skip
    n_gt, n_pred = len(gt_class_id), len(pred_class_id)
    class_ids = np.concatenate([np.asarray(gt_class_id), np.asarray(pred_class_id)]).astype(int)
    scores = np.concatenate([np.zeros(n_gt), np.asarray(pred_score, dtype=np.float64)])
    boxes = np.concatenate([np.asarray(gt_box).reshape(-1, 4), np.asarray(pred_box).reshape(-1, 4)])
    masks = np.concatenate([np.asarray(gt_mask, bool), np.asarray(pred_mask, bool)], axis=-1)
    colors = [GT_COLOR] * n_gt + [PRED_COLOR] * n_pred
    captions = [""] * n_gt
    for p in range(n_pred):
        iou = overlaps[p, pred_match[p]] if pred_match[p] > -1 else overlaps[p].max(initial=0.0)
        captions.append(f"{class_names[int(pred_class_id[p])]} {scores[n_gt + p]:.2f} / {iou:.2f}")
    title = title or "Ground truth (green) vs prediction (red): score / IoU"
    return display_instances(
        image, boxes, masks, class_ids, class_names, scores, title=title, ax=ax,
        show_mask=show_mask, show_bbox=show_box, colors=colors, captions=captions, path=path,
    )  # fmt: skip


def display_images(
    images, titles=None, cols: int = 4, cmap=None, norm=None, interpolation=None, path=None
):
    """Images in a grid with optional titles. Returns the figure."""
    titles = titles if titles is not None else [""] * len(images)
    rows = max(1, -(-len(images) // cols))
    fig = new_figure((14, 14 * rows // cols + 2))
    for k, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        ax.imshow(np.asarray(image).astype(np.uint8), cmap=cmap, norm=norm,
                  interpolation=interpolation)  # fmt: skip
    save_figure(fig, path)
    return fig


def display_top_masks(image, mask, class_ids, class_names, limit: int = 4, path=None):
    """The image and the union mask of each of its ``limit`` largest classes. Returns the figure."""
    mask = np.asarray(mask, dtype=bool)
    class_ids = np.asarray(class_ids).reshape(-1)
    unique = np.unique(class_ids)
    area = [mask[:, :, class_ids == c].sum() for c in unique]
    top = [c for _, c in sorted(zip(area, unique), key=lambda t: -t[0])][:limit]
    images, titles = [image], ["H x W = {}x{}".format(*np.asarray(image).shape[:2])]
    for c in top:
        union = mask[:, :, class_ids == c].any(axis=-1)
        images.append((union * 255).astype(np.uint8))
        titles.append(str(class_names[c]))
    for _ in range(limit - len(top)):
        images.append(np.zeros(mask.shape[:2], np.uint8))
        titles.append("-")
    return display_images(images, titles, cols=limit + 1, cmap="Blues_r", path=path)


def plot_precision_recall(AP, precisions, recalls, ax=None, path=None):  # noqa: N803
    """Precision-recall curve with the AP in the title. Returns (fig, ax)."""
    fig, ax = figure_and_axes((6, 5), ax)
    ax.plot(recalls, precisions, drawstyle="steps-post")
    ax.set_title(f"Precision-Recall curve. AP@50 = {AP:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.1)
    ax.set_xlim(0, 1.1)
    save_figure(fig, path)
    return fig, ax


def plot_overlaps(
    gt_class_ids, pred_class_ids, pred_scores, overlaps, class_names, threshold=0.5, path=None
):
    """IoU grid of predictions (rows, "name (score)") against GT (columns); cells above
    ``threshold`` are bold, green when the classes match and red otherwise. Returns (fig, ax)."""
    overlaps = np.asarray(overlaps, dtype=np.float64)
    fig, ax = figure_and_axes((max(4, len(gt_class_ids)), max(4, len(pred_class_ids))))
    ax.imshow(overlaps, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_yticks(range(len(pred_class_ids)))
    ax.set_yticklabels(
        [f"{class_names[int(c)]} ({s:.2f})" for c, s in zip(pred_class_ids, pred_scores)]
    )
    ax.set_xticks(range(len(gt_class_ids)))
    ax.set_xticklabels([class_names[int(c)] for c in gt_class_ids], rotation=90)
    for i in range(overlaps.shape[0]):
        for j in range(overlaps.shape[1]):
            if overlaps[i, j] > threshold:
                same = pred_class_ids[i] == gt_class_ids[j]
                color, weight = ("green" if same else "red"), "bold"
            else:
                color, weight = "gray", "normal"
            ax.text(j, i, f"{overlaps[i, j]:.2f}", ha="center", va="center", fontsize=9,
                    color=color, fontweight=weight)  # fmt: skip
    ax.set_xlabel("Ground truth")
    ax.set_ylabel("Predictions and scores")
    save_figure(fig, path)
    return fig, ax
