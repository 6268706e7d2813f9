"""Keras 3 layers of the Mask R-CNN graph; each takes plain arguments, never the Config.

- :class:`ProposalLayer` (``layers.proposal``): RPN output -> proposals.
- :class:`DetectionTargetLayer` (``layers.detection_target``): proposals + GT -> training ROIs
  and targets.
- :class:`PyramidROIAlign` (``layers.pyramid_roi_align``): boxes + P2..P5 -> pooled features.
- :class:`DetectionLayer` (``layers.detection``): head output -> final detections.

Boxes inside the graph are normalised ``(y1, x1, y2, x2)`` (``ops.boxes.norm_boxes``).
"""

from fashion_mrcnn.layers.detection import DetectionLayer
from fashion_mrcnn.layers.detection_target import DetectionTargetLayer
from fashion_mrcnn.layers.proposal import ProposalLayer
from fashion_mrcnn.layers.pyramid_roi_align import PyramidROIAlign

__all__ = ["DetectionLayer", "DetectionTargetLayer", "ProposalLayer", "PyramidROIAlign"]
