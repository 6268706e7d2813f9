"""Matplotlib figures without global state: a standalone Agg figure, or a pyplot one when the
caller already uses pyplot (then it shows inline in a notebook); saving to PNG."""

from __future__ import annotations

from pathlib import Path


def new_figure(figsize):
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


def figure_and_axes(figsize=(8, 8), ax=None):
    """(fig, ax): a new figure with one axes, or the figure of a given ``ax``."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot(1, 1, 1)


def save_figure(fig, path) -> None:
    """Write ``fig`` as a PNG at ``path`` (parent folders created); nothing when ``path`` is None."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
