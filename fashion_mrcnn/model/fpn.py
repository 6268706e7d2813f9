"""Feature Pyramid Network (Lin et al. 2017) over C2..C5, Matterport layer names.

Lateral 1x1 convolutions ``fpn_c{k}p{k}`` bring each C_k to ``size`` channels; the top-down path
upsamples by 2 (nearest) and adds; 3x3 convolutions ``fpn_p{k}`` smooth P2..P5; ``fpn_p6`` is a
1x1 max-pool with stride 2 over P5 (used by the RPN only).
"""

from __future__ import annotations

import keras


def fpn_graph(c2, c3, c4, c5, size: int = 256):
    """``[C2, C3, C4, C5]`` (strides 4..32) -> ``[P2, P3, P4, P5, P6]``, each ``[B, h, w, size]``.

    P_k has stride 2^k; H and W of the image must be divisible by 64 so the shapes line up.
    """
    p5 = keras.layers.Conv2D(size, 1, name="fpn_c5p5")(c5)
    up5 = keras.layers.UpSampling2D(2, name="fpn_p5upsampled")(p5)
    p4 = keras.layers.Add(name="fpn_p4add")(
        [up5, keras.layers.Conv2D(size, 1, name="fpn_c4p4")(c4)]
    )
    up4 = keras.layers.UpSampling2D(2, name="fpn_p4upsampled")(p4)
    p3 = keras.layers.Add(name="fpn_p3add")(
        [up4, keras.layers.Conv2D(size, 1, name="fpn_c3p3")(c3)]
    )
    up3 = keras.layers.UpSampling2D(2, name="fpn_p3upsampled")(p3)
    p2 = keras.layers.Add(name="fpn_p2add")(
        [up3, keras.layers.Conv2D(size, 1, name="fpn_c2p2")(c2)]
    )
    outs = []
    for k, p in zip((2, 3, 4, 5), (p2, p3, p4, p5)):
        outs.append(keras.layers.Conv2D(size, 3, padding="same", name=f"fpn_p{k}")(p))
    p6 = keras.layers.MaxPooling2D(pool_size=1, strides=2, name="fpn_p6")(outs[-1])
    return outs + [p6]
