"""Wall time of the staged notebooks run headless by papermill with smoke parameters.

Usage: ``python bench/bench_pipeline.py [OUT_DIR]`` (default: a temporary folder). Prints the
seconds per stage (kernel start, imports, model builds and training included) and the total.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fashion_mrcnn.workflow.papermill_runner import STAGES  # noqa: E402
from fashion_mrcnn.workflow.pipeline import run_pipeline  # noqa: E402


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="bench_pipeline_")
    start = time.perf_counter()
    summary = run_pipeline(out, smoke=True)
    total = time.perf_counter() - start
    print(f"smoke pipeline in {out}")
    for stage in STAGES:
        print(f"  {stage:28s} {summary[stage]['seconds']:7.1f} s")
    print(f"  {'total':28s} {total:7.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
