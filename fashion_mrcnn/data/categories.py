"""The 46 iMaterialist (Fashion) 2019 / 2020 categories and ``label_descriptions.json`` loading.

Category ids 0-26 are garments and accessories ("main garments"), 27-45 are garment parts, closures
and decorations. The package ships the categories (with supercategories) in
``fashion_mrcnn/resources/label_descriptions.json``; its ``attributes`` list is empty: the 92 (2019)
or 294 (2020) attribute names come with the competition data, load that file by path.
"""

from __future__ import annotations

from pathlib import Path

from fashion_mrcnn.data.formats.json_file import read_json_file
from fashion_mrcnn.errors import FashionDataError

__all__ = [
    "ATTRIBUTE_CATEGORIES",
    "DEFAULT_LABEL_DESCRIPTIONS",
    "MAIN_GARMENTS",
    "category_names",
    "check_entries",
    "default_categories",
    "load_label_descriptions",
]

DEFAULT_LABEL_DESCRIPTIONS = (
    Path(__file__).resolve().parents[1] / "resources" / ("label_descriptions.json")
)

#: Garments and accessories (the categories that are whole objects rather than parts).
MAIN_GARMENTS = range(0, 27)

#: Categories whose segments may carry attributes in iMaterialist 2019 (the garments 0-12 and
#: 27 hood, 28 collar, 33 sleeve); a submission may drop them (worth ~15% to a Matterport team).
ATTRIBUTE_CATEGORIES = frozenset([*range(0, 13), 27, 28, 33])


def check_entries(entries, key: str, path: Path) -> list[dict]:
    """``entries`` (a file's ``categories`` or ``attributes`` list) when each is a dict with an
    int ``id`` (not repeated) and a non-empty ``name``; FashionDataError naming ``path``,
    ``key`` and the entry's index otherwise."""
    if not isinstance(entries, list):
        raise FashionDataError(f"{path}: '{key}' must be a list, got {type(entries).__name__}")
    seen: set[int] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or "name" not in entry:
            raise FashionDataError(f"{path}: {key}[{i}] must be a dict with 'id' and 'name'")
        cid = entry["id"]
        if isinstance(cid, bool) or not isinstance(cid, int):
            raise FashionDataError(f"{path}: {key}[{i}] id must be an int, got {cid!r}")
        if cid in seen:
            raise FashionDataError(f"{path}: {key}[{i}] repeats id {cid}")
        if not isinstance(entry["name"], str) or not entry["name"].strip():
            raise FashionDataError(f"{path}: {key}[{i}] (id {cid}) has no name")
        seen.add(cid)
    return entries


def load_label_descriptions(path: str | Path | None = None) -> dict:
    """Read an iMaterialist ``label_descriptions.json``.

    Args:
        path: the file; ``None`` loads the copy shipped with the package (46 categories, no
            attribute names).

    Returns:
        ``{"info": dict, "categories": [{"id", "name", "supercategory", ...}], "attributes": [...]}``
        (``info`` / ``attributes`` default to ``{}`` / ``[]`` when the file lacks them).

    Raises:
        FashionDataError: missing file, invalid JSON, missing / malformed ``categories``.
    """
    path = Path(path) if path is not None else DEFAULT_LABEL_DESCRIPTIONS
    data = read_json_file(path, "label descriptions")
    if not isinstance(data, dict) or "categories" not in data:
        raise FashionDataError(f"{path}: expected a JSON object with a 'categories' list")
    data.setdefault("info", {})
    data.setdefault("attributes", [])
    check_entries(data["categories"], "categories", path)
    check_entries(data["attributes"], "attributes", path)
    for cat in data["categories"]:
        cat.setdefault("supercategory", "")
    return data


def default_categories() -> list[dict]:
    """The 46 shipped categories as ``[{"id", "name", "supercategory", "level"}]`` (fresh copies)."""
    return [dict(c) for c in load_label_descriptions()["categories"]]


def category_names(categories: list[dict]) -> dict[int, str]:
    """``{id: name}`` of a categories list."""
    return {int(c["id"]): str(c["name"]) for c in categories}
