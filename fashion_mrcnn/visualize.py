"""Overlays and plots: the only module that imports matplotlib, and only inside functions.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure`` + the Agg canvas), so
nothing here needs a display or touches pyplot's global state, unless the caller has imported
pyplot (a notebook): then figures come from pyplot and show inline. ``path=`` saves a PNG. :func:`draw_overlay` uses PIL only (used for prediction PNGs).

Conventions: images uint8 [H, W, 3] RGB; boxes [N, (y1, x1, y2, x2)] pixels, y2 / x2 exclusive;
masks bool [H, W, N]; class ids int [N] indexing ``class_names``; colours RGB floats in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashion_mrcnn.colors import (  # noqa: F401 - re-exported: Matterport's visualize has them
    GOLDEN,
    GT_COLOR,
    PRED_COLOR,
    apply_mask,
    class_color,
    mask_outline,
    random_colors,
    to_uint8_color,
)

# ------------------------------------------------------------------------ PIL overlay


def draw_overlay(
    image: np.ndarray,
    boxes: np.ndarray,
    masks: np.ndarray,
    class_ids: Sequence[int],
    class_names: Sequence[str],
    scores: Sequence[float] | None = None,
    alpha: float = 0.45,
    show_bbox: bool = True,
    colors: Sequence | None = None,
    min_side: int = 0,
) -> np.ndarray:
    """Instances drawn onto a copy of ``image`` without matplotlib: uint8 [H, W, 3].

    Each instance gets its class colour (``class_color``): a translucent mask, an outline, a box
    and a ``"name 0.93"`` label above the box. ``min_side``: a smaller image is first enlarged
    by a whole factor (nearest neighbour, masks and boxes alike) so labels stay readable; the
    result is then ``[f * H, f * W, 3]``.
    """
    from PIL import Image, ImageDraw

    image = np.asarray(image)
    factor = -(-int(min_side) // min(image.shape[:2])) if min_side else 1
    if factor > 1:
        image = image.repeat(factor, axis=0).repeat(factor, axis=1)
        if masks is not None:
            masks = np.asarray(masks, bool).repeat(factor, axis=0).repeat(factor, axis=1)
        if boxes is not None:
            boxes = np.asarray(boxes).reshape(-1, 4) * factor
    out = np.asarray(image)
    if out.ndim == 2:
        out = np.stack([out] * 3, axis=-1)
    out = out[:, :, :3].astype(np.uint8, copy=True)
    masks = np.zeros((*out.shape[:2], 0), bool) if masks is None else np.asarray(masks, bool)
    n = len(class_ids)
    cols = [colors[k] if colors is not None else class_color(class_ids[k]) for k in range(n)]
    for k in range(min(n, masks.shape[2])):
        out = apply_mask(out, masks[:, :, k], cols[k], alpha)
        out[mask_outline(masks[:, :, k], 2)] = to_uint8_color(cols[k])
    pil = Image.fromarray(out)
    draw = ImageDraw.Draw(pil)
    boxes = np.zeros((0, 4)) if boxes is None else np.asarray(boxes).reshape(-1, 4)
    for k in range(min(n, len(boxes))):
        y1, x1, y2, x2 = (int(v) for v in boxes[k])
        color = to_uint8_color(cols[k])
        if show_bbox:
            draw.rectangle([x1, y1, max(x2 - 1, x1), max(y2 - 1, y1)], outline=color, width=2)
        label = str(class_names[class_ids[k]])
        if scores is not None:
            label += f" {float(scores[k]):.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), label)
        ty = y1 - (bottom - top) - 4 if y1 - (bottom - top) - 4 >= 0 else y1
        draw.rectangle([x1, ty, x1 + (right - left) + 4, ty + (bottom - top) + 4], fill=color)
        draw.text((x1 + 2, ty + 1), label, fill=(255, 255, 255))
    return np.asarray(pil)


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 [H, W, 3] image (PNG / JPEG by suffix); creates parent folders."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
    return path


def crop_grid(
    crops: Sequence[np.ndarray], captions: Sequence[str], cols: int = 6, cell: int = 160
) -> np.ndarray:
    """Tile crops (each resized to fit ``cell`` x ``cell``) with a caption strip: uint8 image."""
    from PIL import Image, ImageDraw

    cols = max(1, min(cols, len(crops)))
    rows = max(1, -(-len(crops) // cols))
    strip = 14
    sheet = Image.new("RGB", (cols * cell, rows * (cell + strip)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, (crop, caption) in enumerate(zip(crops, captions)):
        im = Image.fromarray(np.asarray(crop, dtype=np.uint8))
        im.thumbnail((cell, cell))
        x, y = (k % cols) * cell, (k // cols) * (cell + strip)
        sheet.paste(im, (x + (cell - im.width) // 2, y + strip + (cell - im.height) // 2))
        draw.text((x + 2, y + 1), str(caption)[: cell // 6], fill=(0, 0, 0))
    return np.asarray(sheet)


# ------------------------------------------------------------------- matplotlib figures


def _new_figure(figsize):
    """A new figure. When the caller already uses pyplot (a notebook, an interactive session)
    the figure comes from pyplot so its backend shows it inline; otherwise it is a standalone
    Figure on the Agg canvas: no display needed, no global state, freed with the object."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        return pyplot.figure(figsize=figsize)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _figure(figsize=(8, 8), ax=None):
    """(fig, ax): a new figure with one axes, or the figure of a given ``ax``."""
    if ax is not None:
        return ax.figure, ax
    fig = _new_figure(figsize)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, path) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")


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
    fig, ax = _figure(figsize, ax)
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
    _save(fig, path)
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
    fig = _new_figure((14, 14 * rows // cols + 2))
    for k, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        ax.imshow(np.asarray(image).astype(np.uint8), cmap=cmap, norm=norm,
                  interpolation=interpolation)  # fmt: skip
    _save(fig, path)
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
    fig, ax = _figure((6, 5), ax)
    ax.plot(recalls, precisions, drawstyle="steps-post")
    ax.set_title(f"Precision-Recall curve. AP@50 = {AP:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.1)
    ax.set_xlim(0, 1.1)
    _save(fig, path)
    return fig, ax


def plot_overlaps(
    gt_class_ids, pred_class_ids, pred_scores, overlaps, class_names, threshold=0.5, path=None
):
    """IoU grid of predictions (rows, "name (score)") against GT (columns); cells above
    ``threshold`` are bold, green when the classes match and red otherwise. Returns (fig, ax)."""
    overlaps = np.asarray(overlaps, dtype=np.float64)
    fig, ax = _figure((max(4, len(gt_class_ids)), max(4, len(pred_class_ids))))
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
    _save(fig, path)
    return fig, ax


# --------------------------------------------------------------- error-analysis plots


def plot_sensitivity_vs_count(table, path=None, count_col="train_count", value_col="recall"):
    """Scatter of per-class sensitivity against training instance count (log x), each point
    labelled with the class name (``table`` index). Returns (fig, ax)."""
    fig, ax = _figure((9, 6))
    counts = np.maximum(np.asarray(table[count_col], dtype=np.float64), 1)
    values = np.asarray(table[value_col], dtype=np.float64)
    ax.scatter(counts, values, c=[class_color(k) for k in range(len(table))], s=36)
    for name, x, y in zip(table.index, counts, values):
        if np.isfinite(y):
            ax.annotate(str(name), (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(f"{count_col} (log scale)")
    ax.set_ylabel(f"{value_col} at IoU 0.5")
    ax.set_title("Per-class sensitivity vs training instances")
    ax.grid(True, alpha=0.3)
    _save(fig, path)
    return fig, ax


def plot_confusion(confusion, path=None, normalize: bool = True):
    """Heat map of a confusion DataFrame (rows GT, columns predictions); rows normalised to
    sum 1 when ``normalize``; counts written in the cells. Returns (fig, ax)."""
    values = np.asarray(confusion, dtype=np.float64)
    shown = values / np.maximum(values.sum(axis=1, keepdims=True), 1) if normalize else values
    n_rows, n_cols = values.shape
    fig, ax = _figure((max(6, 0.5 * n_cols + 3), max(5, 0.45 * n_rows + 2)))
    image = ax.imshow(shown, cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.03)
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels([str(c) for c in confusion.columns], rotation=90, fontsize=8)
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels([str(r) for r in confusion.index], fontsize=8)
    for i in range(n_rows):
        for j in range(n_cols):
            if values[i, j]:
                ax.text(j, i, f"{int(values[i, j])}", ha="center", va="center", fontsize=7,
                        color="w" if shown[i, j] < 0.6 else "k")  # fmt: skip
    ax.set_xlabel("predicted class")
    ax.set_ylabel("ground-truth class")
    ax.set_title("Confusion at mask IoU >= 0.5" + (" (row-normalised)" if normalize else ""))
    _save(fig, path)
    return fig, ax


def plot_deltas(deltas, column: str, path=None, names=("before", "after")):
    """Horizontal bar chart of a per-class delta column (green up, red down). Returns (fig, ax)."""
    values = np.asarray(deltas[column], dtype=np.float64)
    fig, ax = _figure((8, max(4, 0.3 * len(values) + 1)))
    ax.barh(range(len(values)), np.nan_to_num(values),
            color=["tab:green" if v >= 0 else "tab:red" for v in np.nan_to_num(values)])  # fmt: skip
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels([str(i) for i in deltas.index], fontsize=8)
    ax.axvline(0, color="k", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{column} ({names[1]} - {names[0]})")
    ax.set_title(f"Per-class change: {names[1]} vs {names[0]}")
    _save(fig, path)
    return fig, ax


# ------------------------------------------------------------------- data exploration


def tile_images(
    images: Sequence[np.ndarray], cols: int | None = None, cell: int = 384, pad: int = 4
) -> np.ndarray:
    """Tile images (each scaled to fit ``cell`` x ``cell``, aspect kept) on a white sheet:
    uint8 [rows * (cell + pad) + pad, cols * (cell + pad) + pad, 3]. PIL only."""
    from PIL import Image

    if not len(images):
        raise ValueError("tile_images needs at least one image")
    cols = cols or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * (cell + pad) + pad, rows * (cell + pad) + pad), "white")
    for k, image in enumerate(images):
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        im = Image.fromarray(arr[:, :, :3].astype(np.uint8))
        scale = cell / max(im.width, im.height)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
        x = pad + (k % cols) * (cell + pad) + (cell - im.width) // 2
        y = pad + (k // cols) * (cell + pad) + (cell - im.height) // 2
        sheet.paste(im, (x, y))
    return np.asarray(sheet)


def plot_class_counts(table, path=None, suffix: str = "_instances", log: bool = True):
    """Horizontal bars of per-class counts, one bar group per ``<split><suffix>`` column of
    ``table`` (index = class names). Saves to ``path`` and returns it (or the figure when
    ``path`` is None)."""
    columns = [c for c in table.columns if str(c).endswith(suffix)] or list(table.columns)
    order = table[columns].sum(axis=1).sort_values(ascending=True).index
    data = table.loc[order, columns]
    n, m = len(data), len(columns)
    fig, ax = _figure((9, max(4, 0.28 * n * max(1, m * 0.6) + 1.5)))
    height = 0.8 / m
    for j, col in enumerate(columns):
        ax.barh(np.arange(n) + j * height, data[col].to_numpy(), height=height,
                label=str(col)[: -len(suffix)] if str(col).endswith(suffix) else str(col))  # fmt: skip
    ax.set_yticks(np.arange(n) + 0.4 - height / 2)
    ax.set_yticklabels([str(i) for i in data.index], fontsize=8)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("instances" + (" (log scale)" if log else ""))
    ax.set_title("Instances per class")
    ax.legend(loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    _save(fig, path)
    return Path(path) if path is not None else fig


def plot_histograms(
    values, path=None, xlabel: str = "", log: bool = False, bins: int = 30, title: str = ""
):
    """Overlaid histograms of ``{label: values}`` (e.g. one per split), normalised to densities
    so splits of different sizes compare; ``log`` uses log-spaced bins and a log x axis. Saves
    to ``path`` and returns it (or the figure when ``path`` is None)."""
    fig, ax = _figure((8, 5))
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    pooled = np.concatenate([a[np.isfinite(a)] for a in arrays.values()] or [np.zeros(0)])
    if log:
        pooled = pooled[pooled > 0]
    if pooled.size:
        lo, hi = pooled.min(), pooled.max()
        if hi <= lo:
            hi = lo + 1.0
        edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
        for label, arr in arrays.items():
            arr = arr[np.isfinite(arr) & ((arr > 0) if log else True)]
            if arr.size:
                ax.hist(arr, bins=edges, alpha=0.5, density=True, label=f"{label} ({arr.size})")
        ax.legend()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title or xlabel)
    _save(fig, path)
    return Path(path) if path is not None else fig


def plot_history(history, path=None, log: bool = True):
    """Training curves from ``{loss name: [value per epoch]}`` (Keras ``History.history``).

    One line per key (``loss``, the five Matterport losses, their ``val_`` twins dashed); log y
    axis by default since the losses span decades. Saves to ``path`` and returns it (or the
    figure when ``path`` is None).
    """
    series = {k: np.asarray(v, dtype=np.float64) for k, v in history.items() if len(v)}
    if not series:
        raise ValueError("plot_history: the history holds no values")
    fig, ax = _figure((8, 5))
    for name, values in sorted(series.items()):
        epochs = np.arange(1, values.size + 1)
        style = "--" if name.startswith("val_") else "-"
        width = 2.5 if name in ("loss", "val_loss") else 1.2
        ax.plot(epochs, values, style, linewidth=width, label=name)
    if log and all((v[np.isfinite(v)] > 0).all() for v in series.values()):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    if path is None:
        return fig
    _save(fig, path)
    return Path(path)
