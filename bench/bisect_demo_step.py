"""A one-minute demo that prints its median training step time; a ``git bisect run`` script.

    git bisect start BAD GOOD
    git bisect run /path/to/.venv/bin/python bench/bisect_demo_step.py --threshold 110

Runs ``fashion_mrcnn.workflow.demo.run_demo(minutes=1)`` from the checkout in the current
directory (put first on ``sys.path``, so an editable install elsewhere does not interfere) in a
child process, reads Keras's per-epoch lines (``50/50 - 7s - 140ms/step``), and stops the child
after ``--epochs`` epoch lines. It prints the per-epoch step times and their median, leaving out
the first epoch (tracing) and the last one (the budget may cut it short). It works on every
commit since the first release, as it reads only what the demo printed then too.

Exit status for ``git bisect run``: 0 (good) when the median is below ``--threshold`` ms, 1
(bad) otherwise, 125 (skip) when too few epochs ran.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

STEP = re.compile(r"(\d+)ms/step")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=110.0, help="ms per step: good below")
    parser.add_argument("--epochs", type=int, default=9, help="stop after this many epoch lines")
    parser.add_argument("--src", default=os.getcwd(), help="checkout to time (default: cwd)")
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="bisect_demo_")
    code = (
        f"import sys; sys.path.insert(0, {args.src!r}); import fashion_mrcnn; "
        "print('timing', fashion_mrcnn.__file__, flush=True); "
        "from fashion_mrcnn.workflow.demo import run_demo; "
        f"run_demo({out!r}, minutes=1.0)"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    child = subprocess.Popen(
        [sys.executable, "-u", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    times: list[int] = []
    for line in child.stdout:
        if line.startswith("timing "):
            print(line.strip(), flush=True)
        match = STEP.search(line)
        if match:
            times.append(int(match.group(1)))
            if len(times) >= args.epochs:
                break
        if line.startswith("held-out:") or line.startswith("Traceback"):
            break
    child.kill()
    child.wait()
    steady = times[1:-1]
    if len(steady) < 2:
        print(f"too few epochs to time: {times}")
        return 125
    median = statistics.median(steady)
    print(f"ms/step per epoch {times}; median of epochs 2..{len(times) - 1}: {median:.0f} ms")
    return 0 if median < args.threshold else 1


if __name__ == "__main__":
    sys.exit(main())
