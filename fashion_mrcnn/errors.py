"""Exceptions and the skip report shared by every loader.

Every error names the input it is about (file, row or annotation, image) and the problem, so a
user can find and fix the offending line. Loaders that accept ``on_error="skip"`` record what they
skipped in a :class:`SkipReport` instead of raising; nothing is ever dropped silently.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class FashionDataError(ValueError):
    """Bad input data. The message names file, row / annotation, image and problem."""


class RLEError(FashionDataError):
    """A malformed Kaggle run-length encoding."""


class ConfigError(ValueError):
    """An invalid or inconsistent configuration."""


class WeightsError(ValueError):
    """A weights file that cannot be read or does not fit the model."""


class NonFiniteOutputError(WeightsError):
    """Weights whose inference graph gives NaN / inf (boxes, scores or masks): the weights of a
    diverged training run. ``weights``: the file (None when the weights came from no file);
    ``where``: what held the non-finite values. The message names both."""

    def __init__(self, message: str, weights=None, where: str = ""):
        super().__init__(message)
        self.weights = weights
        self.where = where


class TrainingDivergedError(FloatingPointError):
    """Training stopped because a loss exploded (see ``model.guard.DivergenceGuard``); the
    message names epoch, batch, loss and the last good checkpoint."""


class NonFiniteLossError(TrainingDivergedError):
    """Training stopped because a loss or a weight became NaN / inf."""


ON_ERROR_CHOICES = ("raise", "skip")


def check_on_error(on_error: str) -> str:
    """Validate an ``on_error`` argument and return it."""
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    return on_error


#: The file name of a skip report written into a command's output folder (``train`` / ``evaluate``
#: / ``cache`` without ``--skip-report``, ``predict``, the app's ``index``).
SKIP_REPORT_FILE = "skipped.csv"


class SkipReport:
    """What a loader skipped and why.

    ``report.add(item, reason)`` records one skipped item (a CSV row, an annotation, an image) and
    logs a warning; ``report.add(item, reason, warn=False)`` records it silently, for a caller that
    logs one summary warning for many items (duplicates). ``report.write(path)`` writes them as a
    CSV with columns ``item,reason``.
    """

    def __init__(self, name: str = "skipped") -> None:
        self.name = name
        self.items: list[tuple[str, str]] = []

    def add(self, item: str, reason: str, warn: bool = True) -> None:
        self.items.append((str(item), str(reason)))
        if warn:
            log.warning("%s: skipped %s: %s", self.name, item, reason)

    def extend(self, other: SkipReport) -> None:
        """Append another report's items (already logged when they were added there)."""
        self.items.extend(other.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __bool__(self) -> bool:  # an empty report is still a report object
        return True

    def write(self, path: str | Path) -> str | Path:
        """Write ``item,reason`` rows to ``path`` (local or a ``tf.io.gfile`` URL); return it."""
        from fashion_mrcnn import storage

        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["item", "reason"])
        writer.writerows(self.items)
        storage.makedirs(storage.parent(path))
        with storage.open_file(path, "w") as f:
            f.write(text.getvalue())
        return storage.as_path(path)

    def __str__(self) -> str:
        if not self.items:
            return f"{self.name}: nothing skipped"
        lines = [f"{self.name}: {len(self.items)} skipped"]
        lines += [f"  {item}: {reason}" for item, reason in self.items[:20]]
        if len(self.items) > 20:
            lines.append(f"  ... and {len(self.items) - 20} more")
        return "\n".join(lines)
