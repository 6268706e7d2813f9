"""Product data for a catalogue (``fashion-mrcnn index CATALOG_DIR --products CSV``) and the name
a card shows.

The CSV has a header row; ``image`` is required (a photo's file name, as in the catalogue
folder: the folder part is ignored), ``title``, ``price``, ``url`` and ``brand`` are optional and
may be empty::

    image,title,price,url,brand
    look_0001.jpg,Wide-leg linen trousers,49.90,https://shop.example/p/123,Acme

Every garment indexed from a listed photo carries that row's fields. A ``url`` must be an
``http://`` or ``https://`` link (anything else is refused, naming the row: the page turns it
into a link). A price that is a plain number is shown with two decimals ("49.90"), any other
text as written ("EUR 49").

A card without a title shows a clean name instead: the class and the photo's name without its
extension, folder and separators ("Pants · look 0001"; "Pants · photo 0042" for a bare number).
"""

from __future__ import annotations

import csv
from pathlib import Path

from fashion_mrcnn.app.project import FashionDataError

COLUMNS = ("image", "title", "price", "url", "brand")


def _price(text: str) -> str:
    try:
        return f"{float(text):.2f}"
    except ValueError:
        return text


def read_products(path) -> dict[str, dict]:
    """``{photo file name: {title, price, url, brand (the non-empty ones)}}`` from a CSV;
    FashionDataError naming the row for a missing ``image`` column or value, a duplicate
    photo, or a link that is not http(s)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"products file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if "image" not in columns:
            raise FashionDataError(
                f"{path}: no 'image' column (columns: {', '.join(columns) or 'none'}); "
                f"expected {', '.join(COLUMNS)}"
            )
        products: dict[str, dict] = {}
        first_row: dict[str, int] = {}
        for number, raw in enumerate(reader, start=2):
            row = {str(k).strip().lower(): str(v or "").strip() for k, v in raw.items() if k}
            name = Path(row.get("image", "").replace("\\", "/")).name
            if not name:
                raise FashionDataError(f"{path} row {number}: no image file name")
            if name in products:
                raise FashionDataError(
                    f"{path} row {number}: {name} is listed twice (first in row {first_row[name]})"
                )
            url = row.get("url", "")
            if url and not url.lower().startswith(("http://", "https://")):
                raise FashionDataError(
                    f"{path} row {number}: url {url!r} is not an http:// or https:// link"
                )
            fields = {key: row.get(key, "") for key in COLUMNS[1:]}
            if fields["price"]:
                fields["price"] = _price(fields["price"])
            products[name] = {key: value for key, value in fields.items() if value}
            first_row[name] = number
    return products


def clean_name(class_name: str, image: str) -> str:
    """A card's name when the item has no title: ``"Pants · look 0001"``."""
    stem = Path(str(image).replace("\\", "/")).stem
    words = " ".join(stem.replace("_", " ").replace("-", " ").split())
    if words.isdigit():
        words = f"photo {words}"
    return f"{class_name[:1].upper()}{class_name[1:]} · {words or 'photo'}"
