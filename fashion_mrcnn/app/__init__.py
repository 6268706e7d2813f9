"""The web app over the model: ``fashion-mrcnn serve``, ``fashion-mrcnn index`` and
``launch()`` for Colab / Jupyter.

A page (``static/``) where a photo is uploaded, dropped, pasted or picked from samples; it shows
masks, boxes, tags and scores with toggles, a live score filter, the instance list, JSON and
overlay-PNG downloads, and, for a clicked garment, the most similar items of a catalogue
(shop the look). Modules:

- ``project``: every import from the rest of ``fashion_mrcnn`` (one place to re-point);
- ``engine``: the model plus its RoI-feature head; ``embedding``: the garment descriptors;
- ``vector_index``: per-category top-k search (numpy, faiss HNSW for large categories);
- ``catalog``: building and loading a catalogue index; ``samples``: sample photos;
- ``server``: the Starlette app (endpoints, queue, bounded memory); ``serving``: running it
  (``fashion-mrcnn serve``, ``launch()``);
- ``cli``: the ``serve`` and ``index`` sub-commands.

Nothing here is imported by ``import fashion_mrcnn``; ``launch`` imports the model lazily.
"""

from __future__ import annotations


def launch(*args, **kwargs):
    """Start the app in the background and show it inline; see
    :func:`fashion_mrcnn.app.serving.launch`."""
    from fashion_mrcnn.app.serving import launch as _launch

    return _launch(*args, **kwargs)


def register(subparsers) -> None:
    """Add the ``serve`` and ``index`` sub-commands to the ``fashion-mrcnn`` parser."""
    from fashion_mrcnn.app.cli import register as _register

    _register(subparsers)


__all__ = ["launch", "register"]
