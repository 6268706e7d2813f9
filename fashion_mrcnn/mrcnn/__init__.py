"""Matterport's ``mrcnn`` module layout over this project's own functions.

A notebook written for Matterport's Mask R-CNN ports by changing only its import lines::

    from mrcnn.config import Config            ->  from fashion_mrcnn.mrcnn.config import Config
    from mrcnn import utils, visualize         ->  from fashion_mrcnn.mrcnn import utils, visualize
    import mrcnn.model as modellib             ->  import fashion_mrcnn.mrcnn.model as modellib

The four modules (:mod:`.config`, :mod:`.model`, :mod:`.utils`, :mod:`.visualize`) only
re-export; where a signature differs from Matterport's, the module adapts it and its docstring
says how. The README section "Porting a Matterport notebook" lists what is covered.
"""
