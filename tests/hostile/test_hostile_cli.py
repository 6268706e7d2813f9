"""Every CLI row of ``hostile_rows.CLI_ROWS``, in this process (``fashion_mrcnn.cli.main``).

Per row: the input is built in the row's own folder, the command runs, and then the exit code,
the message (a fragment of the first line; see ``hostile_rows``), that no traceback was printed
and what is on disk are checked. Files the row says to ``keep`` must be byte-identical after.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pytest

from fashion_mrcnn.cli import main
from tests.hostile.hostile_rows import CLI_ROWS, SLOW_ROWS, Row


def run_cli(argv: list[str]) -> int:
    """``main(argv)``'s exit code; argparse's SystemExit (a usage error) counts as its code."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("row", CLI_ROWS, ids=lambda row: row.id)
def test_cli_row(row: Row, world, tmp_path, capsys, caplog):
    check_row(row, world, tmp_path, capsys, caplog)


@pytest.mark.slow
@pytest.mark.parametrize("row", SLOW_ROWS, ids=lambda row: row.id)
def test_slow_cli_row(row: Row, world, tmp_path, capsys, caplog, eager):
    check_row(row, world, tmp_path, capsys, caplog)


def check_row(row: Row, world, tmp_path, capsys, caplog) -> None:
    """Build the row's input, run its command, check exit code, message and disk."""
    names = {**world.names(), "tmp": tmp_path, "out": tmp_path / "out"}
    if row.needs_checkpoint:
        world.checkpoint()
    if row.build is not None:
        names.update(row.build(tmp_path, world))

    def path(template: str) -> Path:
        return Path(template.format(**names))

    kept = {t: _sha(path(t)) for t in row.keep}
    capsys.readouterr()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        code = run_cli([a.format(**names) for a in row.argv])
    out, err = capsys.readouterr()
    lines = [line for line in re.split(r"[\r\n]+", err) if line.strip()]  # progress bars: \r
    assert code == row.exit, f"exit {code}; stderr:\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    if row.where == "stderr":
        assert lines, "nothing on stderr"
        assert row.first_line in lines[0], lines[0]
        if row.one_line:
            assert len(lines) == 1, err
        if row.exit == 2:
            assert lines[0].startswith(f"fashion-mrcnn {row.command}: error: "), lines[0]
    elif row.where == "stderr-last":  # the summary printed after a run that went on
        assert lines and row.first_line in lines[-1], err[-3000:]
    elif row.where == "stdout":
        assert any(row.first_line in line for line in out.splitlines()), out
    else:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any(row.first_line in w for w in warnings), warnings
    for template in row.absent:
        assert not path(template).exists(), f"{path(template)} was written"
    for template in row.present:
        assert path(template).exists(), f"{path(template)} is missing"
    for template, digest in kept.items():
        assert _sha(path(template)) == digest, f"{path(template)} changed"
    if row.check is not None:
        row.check({k: Path(v) for k, v in names.items()})
