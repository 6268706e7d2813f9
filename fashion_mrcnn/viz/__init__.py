"""Pictures of data and results: the only package that draws (matplotlib and PIL, imported
inside functions so importing it stays light).

- :mod:`.colors`: class colours, mask blending and outlines (numpy);
- :mod:`.overlay`: PIL drawings without matplotlib: ``draw_overlay`` (prediction PNGs),
  ``tile_images``, ``crop_grid``, ``save_image``;
- :mod:`.figures`: Matterport's ``visualize`` figure API (``display_instances``,
  ``display_differences``, ``display_images``, ``display_top_masks``, ``plot_precision_recall``,
  ``plot_overlaps``, ``random_colors``, ``apply_mask``);
- :mod:`.plots`: charts of tables and histories (class counts, histograms, training curves,
  per-class sensitivity, confusion, per-class deltas);
- :mod:`.galleries`: crop grids of the worst false positives / negatives of an evaluation.

``viz`` may import ``evaluation``; ``evaluation`` never imports ``viz``. Figures are built with
matplotlib's object API on the Agg canvas unless the caller already uses pyplot (a notebook), so
nothing needs a display (:mod:`.canvas`).

Conventions: images uint8 [H, W, 3] RGB; boxes [N, (y1, x1, y2, x2)] pixels, y2 / x2 exclusive;
masks bool [H, W, N]; class ids int [N] indexing ``class_names``; colours RGB floats in [0, 1].
"""
