"""Synthetic fashion scenes: the small, deterministic dataset the demo and the tests train on.

Each scene shows one or two stylised "people" on a varied background. A person wears a plausible
outfit, drawn back to front: body (skin, not labelled), pants or skirt or a dress, top, shoes, hat
and a bag held in one hand. Later shapes occlude earlier ones (and the second person occludes the
first), so every instance mask is the *visible* part of its garment: masks never overlap, and
instances whose visible area falls under a minimum are dropped (their pixels stay painted, but
they are not labelled - like a heavily occluded garment an annotator would skip).

Garments carry textures (stripes, checks, dots, noisy solid, gradient) drawn from one shared
colour distribution, so colour and texture say nothing about the class: shape does. Tops, skirts
and dresses are look-alikes by design (a dress is a top and a skirt fused into one instance).

Category ids are the iMaterialist 2019 source ids (0..45): 1 top, 6 pants, 8 skirt, 10 dress,
14 hat, 23 shoe (a pair = two instances), 24 bag.

On disk (:func:`generate`) the layout is the Kaggle iMaterialist one, so the ordinary loader reads
it: ``train/<ImageId>`` JPEGs, ``train.csv`` (``ImageId,EncodedPixels,Height,Width,ClassId``,
Kaggle RLE; written by ``export.records_to_kaggle_csv``), ``label_descriptions.json`` and
``splits.json`` (``splits.write_splits``).

Over 400 lines: one generator. Each garment's shape is a few lines of geometry on the shared
``_Person`` frame, so the whole scene model is read in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from fashion_mrcnn.data.formats import rle
from fashion_mrcnn.errors import ConfigError

__all__ = [
    "CATEGORY_IDS",
    "generate",
    "image_rng",
    "render_scene",
    "render_scene_with_attributes",
]

TOP, PANTS, SKIRT, DRESS, HAT, SHOE, BAG = 1, 6, 8, 10, 14, 23, 24
#: Source category ids the generator draws (iMaterialist 2019 numbering).
CATEGORY_IDS = (TOP, PANTS, SKIRT, DRESS, HAT, SHOE, BAG)

# Attribute ids of the synthetic set (length and textile pattern). The names come from the
# iMaterialist / Fashionpedia attribute vocabulary; the ids are this generator's own (the synthetic
# label_descriptions.json defines them), not a claim about Kaggle's numbering.
PATTERN_ATTRIBUTE = {"solid": 61, "checks": 66, "dots": 67, "stripes": 72}
LENGTH_ATTRIBUTE = {"mini": 3, "knee": 5, "midi": 7, "maxi": 8}
#: The attribute entries used above, written into the synthetic label_descriptions.json.
ATTRIBUTES = [
    {"id": 3, "name": "mini (length)", "supercategory": "length", "level": 1},
    {"id": 5, "name": "knee (length)", "supercategory": "length", "level": 1},
    {"id": 7, "name": "midi", "supercategory": "length", "level": 1},
    {"id": 8, "name": "maxi (length)", "supercategory": "length", "level": 1},
    {"id": 61, "name": "plain (pattern)", "supercategory": "textile pattern", "level": 1},
    {"id": 66, "name": "check", "supercategory": "textile pattern", "level": 1},
    {"id": 67, "name": "dot", "supercategory": "textile pattern", "level": 1},
    {"id": 72, "name": "stripe", "supercategory": "textile pattern", "level": 1},
]
ATTRIBUTE_CATEGORIES = (TOP, PANTS, SKIRT, DRESS)  # categories 0..12 carry attributes in 2019

TEXTURES = ("solid", "stripes", "checks", "dots", "gradient")
SKIN_TONES = np.array(
    [[241, 194, 167], [224, 172, 135], [198, 134, 98], [161, 102, 72], [110, 70, 50], [86, 55, 40]],
    dtype=np.float32,
)

# ----------------------------------------------------------------------------------------------
# Geometry: shapes are float polygons in "person units" (x right of the body axis, y down from the
# top of the head; a person is 8 units tall), mapped to pixels by a similarity transform.


def _ellipse(cx, cy, rx, ry, a0=0.0, a1=360.0, n=28) -> np.ndarray:
    """Polygon [n, 2] (x, y) on an ellipse arc from a0 to a1 degrees (closed by fillPoly)."""
    t = np.deg2rad(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _limb(x0, y0, x1, y1, w0, w1) -> np.ndarray:
    """Quad [4, 2] of a tapered limb from (x0, y0) (width w0) to (x1, y1) (width w1)."""
    d = np.array([x1 - x0, y1 - y0], dtype=np.float64)
    n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6)
    a, b = np.array([x0, y0]), np.array([x1, y1])
    return np.stack([a + n * w0 / 2, b + n * w1 / 2, b - n * w1 / 2, a - n * w0 / 2])


class _Person:
    """One person's pose and the transform from person units to image pixels."""

    def __init__(self, rng: np.random.Generator, size: int, scale: tuple[float, float]):
        height = rng.uniform(*scale) * size
        self.unit = height / 8.0
        cx = rng.uniform(0.15, 0.85) * size
        top = rng.uniform(-0.08 * height, max(size - 0.95 * height, -0.04 * height))
        angle = np.deg2rad(rng.uniform(-7, 7))
        c, s = np.cos(angle), np.sin(angle)
        self.rot = np.array([[c, -s], [s, c]]) * self.unit
        self.offset = np.array([cx, top + 4.0 * self.unit]) - self.rot @ np.array([0.0, 4.0])
        # Pose: arm angles from vertical, legs spread, hands.
        self.arm = [rng.uniform(8, 35), rng.uniform(8, 35)]  # degrees, left / right
        self.spread = rng.uniform(0.0, 0.45)
        self.hands = []
        for side, deg in zip((-1, 1), self.arm):
            a = np.deg2rad(deg)
            self.hands.append((side * (0.95 + 2.9 * np.sin(a)), 1.45 + 2.9 * np.cos(a)))
        self.ankles = [(side * (0.4 + self.spread), 7.5) for side in (-1, 1)]

    def to_px(self, poly: np.ndarray) -> np.ndarray:
        return poly @ self.rot.T + self.offset

    def arm_poly(self, side: int, frac: float = 1.0, widen: float = 0.0) -> np.ndarray:
        hx, hy = self.hands[(side + 1) // 2]
        sx, sy = side * 0.95, 1.45
        ex, ey = sx + frac * (hx - sx), sy + frac * (hy - sy)
        return _limb(sx, sy, ex, ey, 0.5 + widen, 0.5 - 0.2 * frac + widen)

    def leg_poly(self, side: int, y_end: float = 7.5, widen: float = 0.0) -> np.ndarray:
        ax, ay = self.ankles[(side + 1) // 2]
        hx, hy = side * 0.42, 4.2
        f = (y_end - hy) / (ay - hy)
        return _limb(hx, hy, hx + f * (ax - hx), y_end, 0.78 + widen, 0.78 - 0.4 * f + widen)


def _fill(shape: tuple[int, int], person: _Person, polys, holes=()) -> np.ndarray:
    """bool [H, W]: union of polygons (person units) minus holes, 1/16 px vertex precision."""
    canvas = np.zeros(shape, dtype=np.uint8)
    # One fillPoly call per polygon: a single call with several polygons uses the even-odd rule,
    # which would cut holes where the polygons overlap.
    for value, group in ((1, polys), (0, holes)):
        for poly in group:
            pts = np.round(person.to_px(poly) * 16).astype(np.int32)
            cv2.fillPoly(canvas, [pts], value, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


# ----------------------------------------------------------------------------------------------
# Garment silhouettes. Each returns (polygons, holes) in person units plus attribute info.


def _top(rng, p: _Person):
    hem = rng.uniform(3.7, 4.5)
    w = rng.uniform(0.85, 1.1)
    body = np.array([[-0.32, 1.15], [-0.98, 1.35], [-w, hem], [w, hem], [0.98, 1.35], [0.32, 1.15],
                     [0.0, 1.15 + rng.uniform(0.1, 0.45)]])  # fmt: skip
    frac = float(rng.choice([0.3, 0.6, 1.0]))
    sleeves = [p.arm_poly(side, frac=frac, widen=0.22) for side in (-1, 1)]
    return [body, *sleeves], [], None


def _pants(rng, p: _Person):
    waist, end = rng.uniform(3.4, 3.7), rng.uniform(6.9, 7.55)
    widen = rng.uniform(0.05, 0.35)
    band = np.array([[-0.88, waist], [0.88, waist], [0.92, 4.55], [-0.92, 4.55]])
    legs = [p.leg_poly(side, y_end=end, widen=widen) for side in (-1, 1)]
    return [band, *legs], [], None


def _flare(rng, top_y: float, top_w: float, hem_y: float, hem_w: float) -> np.ndarray:
    """A flared skirt outline: straight sides, hem bulging down in a shallow arc."""
    t = np.linspace(-1, 1, 9)
    hem = np.stack([t * hem_w, hem_y + rng.uniform(0.05, 0.3) * (1 - t**2)], axis=1)[::-1]
    return np.vstack([[[-top_w, top_y], [top_w, top_y]], hem])


def _length(hem_y: float) -> str:
    return "mini" if hem_y < 5.0 else "knee" if hem_y < 5.8 else "midi" if hem_y < 6.6 else "maxi"


def _skirt(rng, p: _Person):
    waist, hem = rng.uniform(3.4, 3.8), rng.uniform(4.7, 7.2)
    poly = _flare(rng, waist, 0.8, hem, rng.uniform(1.0, 1.9))
    return [poly], [], _length(hem)


def _dress(rng, p: _Person):
    waist, hem = rng.uniform(3.3, 3.8), rng.uniform(4.9, 7.3)
    bodice = np.array([[-0.3, 1.15], [-0.95, 1.35], [-0.72, waist], [0.72, waist], [0.95, 1.35],
                       [0.3, 1.15], [0.0, 1.15 + rng.uniform(0.15, 0.6)]])  # fmt: skip
    polys = [bodice, _flare(rng, waist - 0.05, 0.74, hem, rng.uniform(1.0, 2.0))]
    if rng.random() < 0.5:
        polys += [p.arm_poly(side, frac=0.3, widen=0.2) for side in (-1, 1)]
    return polys, [], _length(hem)


def _shoe(rng, p: _Person, side: int):
    ax, ay = p.ankles[(side + 1) // 2]
    toe = side * rng.uniform(0.05, 0.25)
    sole = _ellipse(ax + toe, ay + 0.32, 0.42, 0.27)
    upper = np.array([[ax - 0.3, ay - rng.uniform(0.05, 0.5)], [ax + 0.3, ay - 0.1],
                      [ax + 0.34 + toe, ay + 0.3], [ax - 0.34 + toe, ay + 0.3]])  # fmt: skip
    return [sole, upper], [], None


def _hat(rng, p: _Person):
    if rng.random() < 0.6:  # brimmed hat
        crown = np.vstack([_ellipse(0, 0.3, 0.46, 0.42, 180, 360), [[0.46, 0.38], [-0.46, 0.38]]])
        brim = _ellipse(0, 0.36, rng.uniform(0.7, 1.0), rng.uniform(0.08, 0.14))
        return [crown, brim], [], None
    beanie = np.vstack([_ellipse(0, 0.42, 0.44, 0.5, 180, 360), [[0.44, 0.5], [-0.44, 0.5]]])
    return [beanie], [], None


def _bag(rng, p: _Person):
    side = int(rng.choice([-1, 1]))
    hx, hy = p.hands[(side + 1) // 2]
    w, h = rng.uniform(0.55, 0.9), rng.uniform(0.7, 1.3)
    top = hy + 0.35
    body = np.array(
        [[hx - w * 0.85, top], [hx + w * 0.85, top], [hx + w, top + h], [hx - w, top + h]]
    )
    r = rng.uniform(0.3, 0.45)
    outer = _ellipse(hx, top + 0.02, w * 0.55, r + 0.1, 180, 360)
    inner = _ellipse(hx, top + 0.03, w * 0.55 - 0.12, r - 0.02, 180, 360)
    return [body, outer], [inner], None


# ----------------------------------------------------------------------------------------------
# Appearance.


def _colour(rng) -> np.ndarray:
    """float32 [3] RGB in 0..255 from a broad HSV range (shared by all classes)."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(30, 230), rng.uniform(50, 245)]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _texture(rng, h: int, w: int, kind: str, unit: float) -> np.ndarray:
    """float32 [h, w, 3] texture patch in 0..255."""
    c1, c2 = _colour(rng), _colour(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(3.0, unit * rng.uniform(0.25, 0.8))
    if kind == "solid":
        t = np.zeros((h, w), np.float32)
    elif kind == "stripes":
        a = rng.uniform(0, np.pi)
        t = (((x * np.cos(a) + y * np.sin(a)) / period) % 1.0 < rng.uniform(0.3, 0.6)).astype(
            np.float32
        )
    elif kind == "checks":
        t = ((np.floor(x / period) + np.floor(y / period)) % 2).astype(np.float32)
    elif kind == "dots":
        r = period * rng.uniform(0.2, 0.4)
        t = (((x % period) - period / 2) ** 2 + ((y % period) - period / 2) ** 2 < r * r).astype(
            np.float32
        )
    else:  # gradient
        a = rng.uniform(0, 2 * np.pi)
        g = x * np.cos(a) + y * np.sin(a)
        t = (g - g.min()) / max(float(np.ptp(g)), 1.0)
    out = c1 + t[..., None] * (c2 - c1)
    return out + rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)


def _background(rng, size: int) -> np.ndarray:
    """float32 [S, S, 3]: smooth noise, a gradient, or a wall / floor split."""
    kind = rng.integers(3)
    if kind == 0:
        low = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.float32)
        img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
        img = 0.5 * img + 0.5 * _colour(rng)
    elif kind == 1:
        img = _texture(rng, size, size, "gradient", size / 8)
    else:
        split = int(rng.uniform(0.5, 0.85) * size)
        img = np.empty((size, size, 3), np.float32)
        img[:split] = _texture(
            rng, split, size, str(rng.choice(["solid", "gradient", "stripes"])), size / 4
        )
        img[split:] = _texture(
            rng, size - split, size, str(rng.choice(["solid", "checks"])), size / 3
        )
    return img + rng.normal(0, 5, size=(size, size, 3)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Scene.


def _outfit(rng, person: _Person):
    """Yield (category_id, polygons, holes, length) for one person, back to front."""
    style = rng.choice(["dress", "pants", "skirt"], p=[0.3, 0.38, 0.32])
    items = []
    if style == "pants":
        items.append((PANTS, *_pants(rng, person)))
    elif style == "skirt":
        items.append((SKIRT, *_skirt(rng, person)))
    if rng.random() < 0.8:
        items += [(SHOE, *_shoe(rng, person, side)) for side in (-1, 1)]
    if style == "dress":
        items.append((DRESS, *_dress(rng, person)))
    elif rng.random() < 0.9:
        items.append((TOP, *_top(rng, person)))
    if rng.random() < 0.35:
        items.append((HAT, *_hat(rng, person)))
    if rng.random() < 0.4:
        items.append((BAG, *_bag(rng, person)))
    return items


def _paint(image, owner, region, colour_patch, idx):
    """Paint a float texture into ``region`` (bool [H, W]) and record ``idx`` as its owner."""
    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return
    y0, x0 = ys.min(), xs.min()
    image[ys, xs] = colour_patch[ys - y0, xs - x0]
    owner[ys, xs] = idx


def _draw_body(rng, image, owner, person: _Person):
    shape = owner.shape
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] + rng.normal(0, 8, 3).astype(np.float32)
    head = _ellipse(0, 0.55, 0.4, 0.52)
    neck = np.array([[-0.16, 0.9], [0.16, 0.9], [0.18, 1.4], [-0.18, 1.4]])
    torso = np.array([[-0.95, 1.3], [0.95, 1.3], [0.8, 4.4], [-0.8, 4.4]])
    polys = [head, neck, torso]
    polys += [person.arm_poly(s) for s in (-1, 1)] + [person.leg_poly(s) for s in (-1, 1)]
    polys += [_ellipse(*person.hands[i], 0.2, 0.24) for i in (0, 1)]
    polys += [_ellipse(ax, ay + 0.25, 0.25, 0.2) for ax, ay in person.ankles]
    region = _fill(shape, person, polys)
    patch = np.broadcast_to(skin, (*shape, 3))
    _paint(image, owner, region, patch, -1)
    if rng.random() < 0.75:  # hair
        hair = _fill(shape, person, [_ellipse(0, 0.45, 0.44, 0.45, 180, 360)])
        _paint(image, owner, hair, np.broadcast_to(_colour(rng) * 0.4, (*shape, 3)), -1)


def _render(rng: np.random.Generator, size: int, min_area: int):
    """Draw one scene. Returns image uint8 [S, S, 3], owner int32 [S, S] (-1 = unlabelled),
    and per drawn item (category_id, texture kind, length or None)."""
    image = _background(rng, size)
    owner = np.full((size, size), -1, dtype=np.int32)
    n_people = 1 if rng.random() < 0.55 else 2
    scale = (0.6, 1.0) if n_people == 1 else (0.5, 0.88)
    items = []
    for _ in range(n_people):
        person = _Person(rng, size, scale)
        _draw_body(rng, image, owner, person)
        for cat, polys, holes, length in _outfit(rng, person):
            region = _fill((size, size), person, polys, holes)
            ys, xs = np.nonzero(region)
            if ys.size == 0:
                continue
            kind = str(rng.choice(TEXTURES))
            h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
            patch = _texture(rng, h, w, kind, person.unit)
            shade = np.linspace(1.05, 0.85, h, dtype=np.float32)[:, None, None]
            _paint(image, owner, region, patch * shade, len(items))
            items.append((cat, kind, length))
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    areas = np.bincount(owner[owner >= 0].ravel(), minlength=len(items))
    keep = [i for i in range(len(items)) if areas[i] >= min_area]
    return image, owner, [items[i] for i in keep], keep


def render_scene_with_attributes(
    rng: np.random.Generator,
    size: int = 256,
    min_instances: int = 1,
    max_instances: int = 14,
    min_area: int | None = None,
):
    """Render one scene and the attribute ids of its instances.

    Args:
        rng: the only source of randomness (same generator state -> identical scene).
        size: side S of the square image in pixels.
        min_instances, max_instances: scenes with a different instance count are redrawn (with
            the same generator, so the result stays deterministic).
        min_area: visible pixels an instance needs to be labelled; default ``max(12, S*S/2500)``.

    Returns:
        ``(image, masks, category_ids, attribute_ids)``: image uint8 [S, S, 3] RGB; masks bool
        [S, S, N], visible parts, pairwise disjoint, each non-empty; category_ids int32 [N]
        (iMaterialist source ids); attribute_ids list of N sorted lists (pattern and, for skirts
        and dresses, length; empty for categories without attributes or gradient textures).
    """
    if size < 32:
        raise ConfigError(f"size must be >= 32 pixels, got {size}")
    if not 0 <= min_instances <= max_instances:
        raise ValueError(
            f"need 0 <= min_instances <= max_instances, got {min_instances}, {max_instances}"
        )
    min_area = max(12, size * size // 2500) if min_area is None else int(min_area)
    for _ in range(100):
        image, owner, items, keep = _render(rng, size, min_area)
        if min_instances <= len(items) <= max_instances:
            break
    else:
        raise ValueError(
            f"could not draw a scene with {min_instances}..{max_instances} instances in 100 tries"
        )
    masks = (
        np.stack([owner == k for k in keep], axis=-1) if keep else np.zeros((size, size, 0), bool)
    )
    category_ids = np.array([cat for cat, _, _ in items], dtype=np.int32)
    attributes = []
    for cat, kind, length in items:
        ids = []
        if cat in ATTRIBUTE_CATEGORIES:
            if kind in PATTERN_ATTRIBUTE:
                ids.append(PATTERN_ATTRIBUTE[kind])
            if length is not None:
                ids.append(LENGTH_ATTRIBUTE[length])
        attributes.append(sorted(ids))
    return image, masks, category_ids, attributes


def render_scene(rng: np.random.Generator, size: int = 256, **kwargs):
    """Render one scene: ``(image uint8 [S, S, 3], masks bool [S, S, N], category_ids int32 [N])``.

    See :func:`render_scene_with_attributes` for the arguments and guarantees.
    """
    image, masks, category_ids, _ = render_scene_with_attributes(rng, size, **kwargs)
    return image, masks, category_ids


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for image ``index`` of a dataset seeded ``seed`` (independent of its size)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def generate(
    out_dir: str | Path,
    n_images: int,
    size: int = 256,
    seed: int = 0,
    min_instances: int = 1,
    max_instances: int = 14,
    attributes: bool = False,
    val_fraction: float = 0.2,
) -> Path:
    """Write a synthetic dataset in the Kaggle iMaterialist 2019 layout and return ``out_dir``.

    Files: ``train/synth_00000.jpg`` ... (JPEG quality 95, no chroma subsampling);
    ``train.csv``, one row per instance: ``ImageId,EncodedPixels,Height,Width,ClassId`` with
    ClassId ``"10"`` or, with ``attributes=True``, ``"10_7_61"`` (category, then attribute ids);
    ``label_descriptions.json`` (the 46 iMaterialist categories and the attributes used);
    ``splits.json``: ``{"train": [...], "val": [...]}``, the last ``val_fraction`` of the images
    (rounded) in val. Image ``i`` depends only on ``(seed, i)``, not on ``n_images``.
    """
    from PIL import Image

    from fashion_mrcnn.data import categories
    from fashion_mrcnn.data.export import records_to_kaggle_csv
    from fashion_mrcnn.data.splits import write_splits

    if n_images < 1:
        raise ConfigError(f"n_images must be >= 1, got {n_images}")
    if size < 32:  # before any folder is made
        raise ConfigError(f"size must be >= 32 pixels, got {size}")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    out_dir = Path(out_dir)
    (out_dir / "train").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n_images):
        image_id = f"synth_{i:05d}.jpg"
        image, masks, cats, attrs = render_scene_with_attributes(
            image_rng(seed, i), size, min_instances=min_instances, max_instances=max_instances
        )
        Image.fromarray(image).save(out_dir / "train" / image_id, quality=95, subsampling=0)
        instances = [
            {
                "category_id": int(cats[k]),
                "attribute_ids": attrs[k] if attributes else [],
                "segmentation": {"kind": "kaggle_rle", "data": rle.encode(masks[..., k])},
            }
            for k in range(masks.shape[-1])
        ]
        records.append(
            {"image_id": image_id, "height": size, "width": size, "instances": instances}
        )
    records_to_kaggle_csv(records, out_dir / "train.csv", lineterminator="\n")
    labels = categories.load_label_descriptions()
    labels["info"] = {
        "year": 2019,
        "version": "synthetic",
        "description": f"fashion_mrcnn synthetic scenes: {n_images} images, {size} px, seed {seed}",
        "contributor": "fashion_mrcnn.data.synthetic",
    }
    labels["attributes"] = [dict(a) for a in ATTRIBUTES]
    with (out_dir / "label_descriptions.json").open("w", encoding="utf-8") as f:
        json.dump(labels, f, indent=1)
        f.write("\n")
    n_val = int(round(n_images * val_fraction))
    n_val = min(n_val, n_images - 1)
    ids = [rec["image_id"] for rec in records]
    write_splits(out_dir, {"train": ids[: n_images - n_val], "val": ids[n_images - n_val :]})
    return out_dir
