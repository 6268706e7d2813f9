"""Charts of tables and training histories: class counts, histograms, loss curves (data
exploration, training) and per-class sensitivity, confusion heat maps, per-class deltas (error
analysis on ``evaluation.analysis`` tables).

Each returns the figure (and axes), or the path when it saves one (see each docstring).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_mrcnn.viz.canvas import figure_and_axes, save_figure
from fashion_mrcnn.viz.colors import class_color


def plot_sensitivity_vs_count(table, path=None, count_col="train_count", value_col="recall"):
    """Scatter of per-class sensitivity (``value_col``) against training instance count (log x),
    each point labelled with the class name (``table`` index, e.g. ``per_class_table``); classes
    without a count are left out. Returns (fig, ax); ValueError when no class has a count."""
    if len(table) and table[count_col].isna().all():
        raise ValueError(f"the table has no {count_col}: pass train_counts to per_class_table")
    table = table.dropna(subset=[count_col])
    fig, ax = figure_and_axes((9, 6))
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
    save_figure(fig, path)
    return fig, ax


def plot_confusion(confusion, path=None, normalize: bool = True):
    """Heat map of a confusion DataFrame (rows GT, columns predictions); rows normalised to
    sum 1 when ``normalize``; counts written in the cells. Returns (fig, ax)."""
    values = np.asarray(confusion, dtype=np.float64)
    shown = values / np.maximum(values.sum(axis=1, keepdims=True), 1) if normalize else values
    n_rows, n_cols = values.shape
    fig, ax = figure_and_axes((max(6, 0.5 * n_cols + 3), max(5, 0.45 * n_rows + 2)))
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
    save_figure(fig, path)
    return fig, ax


def plot_deltas(deltas, column: str, path=None, names=("before", "after")):
    """Horizontal bar chart of a per-class delta column (green up, red down). Returns (fig, ax)."""
    values = np.asarray(deltas[column], dtype=np.float64)
    fig, ax = figure_and_axes((8, max(4, 0.3 * len(values) + 1)))
    ax.barh(range(len(values)), np.nan_to_num(values),
            color=["tab:green" if v >= 0 else "tab:red" for v in np.nan_to_num(values)])  # fmt: skip
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels([str(i) for i in deltas.index], fontsize=8)
    ax.axvline(0, color="k", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{column} ({names[1]} - {names[0]})")
    ax.set_title(f"Per-class change: {names[1]} vs {names[0]}")
    save_figure(fig, path)
    return fig, ax


def plot_class_counts(table, path=None, suffix: str = "_instances", log: bool = True):
    """Horizontal bars of per-class counts, one bar group per ``<split><suffix>`` column of
    ``table`` (index = class names). Saves to ``path`` and returns it (or the figure when
    ``path`` is None)."""
    columns = [c for c in table.columns if str(c).endswith(suffix)] or list(table.columns)
    order = table[columns].sum(axis=1).sort_values(ascending=True).index
    data = table.loc[order, columns]
    n, m = len(data), len(columns)
    fig, ax = figure_and_axes((9, max(4, 0.28 * n * max(1, m * 0.6) + 1.5)))
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
    save_figure(fig, path)
    return Path(path) if path is not None else fig


def plot_histograms(
    values, path=None, xlabel: str = "", log: bool = False, bins: int = 30, title: str = ""
):
    """Overlaid histograms of ``{label: values}`` (e.g. one per split), normalised to densities
    so splits of different sizes compare; ``log`` uses log-spaced bins and a log x axis. Saves
    to ``path`` and returns it (or the figure when ``path`` is None)."""
    fig, ax = figure_and_axes((8, 5))
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
    save_figure(fig, path)
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
    fig, ax = figure_and_axes((8, 5))
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
    save_figure(fig, path)
    return Path(path)
