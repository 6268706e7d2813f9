"""The README's table of hostile-input rows per command counts the rows of this suite."""

from __future__ import annotations

import re
from pathlib import Path

from tests.hostile.hostile_rows import row_counts

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_counts_the_rows_per_command():
    text = README.read_text()
    table = text[text.index("**The hostile-input suite**") :].split("\n\n", 2)[1]
    cells = re.findall(r"\| *(`[\w-]+`|web API|total) *\| *(\d+) *", table)
    shown = {name.strip("`"): int(n) for name, n in cells}
    counts = row_counts()
    assert shown.pop("total") == sum(counts.values())
    assert shown == counts


def test_every_command_has_a_row():
    import argparse

    from fashion_mrcnn.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) <= set(row_counts()), set(sub.choices) - set(row_counts())
