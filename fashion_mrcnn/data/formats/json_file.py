"""Reading a JSON file (COCO annotations, label descriptions, splits) with errors that name it."""

from __future__ import annotations

import json
from pathlib import Path

from fashion_mrcnn.errors import FashionDataError

__all__ = ["read_json_file"]


def read_json_file(path: str | Path, what: str):
    """Parse a UTF-8 JSON file; every failure is a FashionDataError naming the file.

    Args:
        path: the file. what: what it should be (``"COCO JSON"``, ``"splits"``), for messages.

    Raises:
        FashionDataError: missing file, a directory, unreadable, not UTF-8 (a binary file),
            invalid JSON.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise FashionDataError(f"{path}: {what} file not found") from exc
    except UnicodeDecodeError as exc:
        raise FashionDataError(
            f"{path}: not a UTF-8 text file (binary data at byte {exc.start}); expected {what}"
        ) from exc
    except json.JSONDecodeError as exc:
        raise FashionDataError(f"{path}: invalid JSON ({what}): {exc}") from exc
    except OSError as exc:
        raise FashionDataError(f"{path}: cannot read {what} ({exc})") from exc
