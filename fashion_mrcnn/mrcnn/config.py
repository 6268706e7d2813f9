"""Matterport's ``mrcnn.config``: ``Config`` is :class:`fashion_mrcnn.config.Config`.

Subclass it with upper-case class attributes and instantiate it with no arguments, as in
Matterport (``config = MyConfig()``); derived values (BATCH_SIZE, IMAGE_SHAPE, IMAGE_META_SIZE)
are computed in ``__init__`` and the settings are validated there (a ConfigError names the first
inconsistent one).
"""

from fashion_mrcnn.config import Config

__all__ = ["Config"]
