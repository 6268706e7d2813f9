"""Gather every ``bench/results/*.md`` into ``bench/RESULTS.md``.

Each benchmark script's author records a run (machine, date, exact command, numbers) in its own
file under ``bench/results/``; this script concatenates them in a fixed order under one header so
``bench/RESULTS.md`` is the single place to read. Run: ``python bench/collect_results.py``.
"""

from __future__ import annotations

from pathlib import Path

ORDER = [
    "rle",
    "index",
    "kaggle_metric",
    "levers",
    "attributes",
    "synthetic",
    "engine_ops",
    "model",
    "vs_torchvision",
    "profile_vs_tv",
    "speed_goals",
    "xla",
    "precision",
    "convergence",
    "realdata",
    "demo",
    "pipeline",
    "app",
]

HEADER = """# Benchmark results

Every number here comes from a script in `bench/` that anyone can rerun; each section names the
machine, the date and the exact command. Machine for all runs unless a section says otherwise:
2 CPU cores (x86_64, AVX-512), 24 GB RAM, no GPU; Python 3.11.7, TensorFlow 2.21.0, Keras 3.15.1.
Sections are maintained in `bench/results/*.md` and gathered by `python bench/collect_results.py`.
"""


def main() -> Path:
    here = Path(__file__).resolve().parent
    files = {p.stem: p for p in (here / "results").glob("*.md")}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    parts = [HEADER]
    for name in names:
        text = files[name].read_text().strip()
        # demote every heading one level: each file's title becomes a section
        text = "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())
        parts.append(text)
    out = here / "RESULTS.md"
    out.write_text("\n\n".join(parts) + "\n")
    return out


if __name__ == "__main__":
    print(main())
