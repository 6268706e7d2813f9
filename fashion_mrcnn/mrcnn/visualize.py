"""Matterport's ``mrcnn.visualize`` over :mod:`fashion_mrcnn.viz.figures`.

``display_instances``, ``display_differences``, ``display_images``, ``display_top_masks``,
``plot_precision_recall``, ``plot_overlaps``, ``random_colors`` and ``apply_mask`` keep
Matterport's arguments. Differences: each figure function also takes ``path=`` (writes a PNG)
and returns its figure (``display_instances``: ``(fig, ax)``) instead of calling ``plt.show()``;
in a notebook that uses pyplot the figure shows inline. ``display_instances`` has no
``auto_show``. ``random_colors(N, bright=True, seed=0)`` is seeded (Matterport shuffles with the
global ``random``). ``apply_mask`` returns a new image (Matterport's also writes into
its argument). ``draw_boxes``, ``draw_rois``, ``display_table`` and
``display_weight_stats`` are not provided.
"""

from fashion_mrcnn.viz.figures import (
    apply_mask,
    display_differences,
    display_images,
    display_instances,
    display_top_masks,
    plot_overlaps,
    plot_precision_recall,
    random_colors,
)

__all__ = [
    "display_instances",
    "display_differences",
    "display_images",
    "display_top_masks",
    "plot_precision_recall",
    "plot_overlaps",
    "random_colors",
    "apply_mask",
]
