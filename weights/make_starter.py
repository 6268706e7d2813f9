"""Pack a training run's checkpoint as the shipped starter model (``weights/starter/``).

    .venv/bin/python weights/make_starter.py RUN/logs/<run>/mask_rcnn_<name>_<epoch>.h5

Writes ``weights/starter/mask_rcnn_starter.h5`` (the checkpoint's weights stored as float16, half
the size; ``MaskRCNN.load_weights`` casts them back to float32), and copies the run's
``train_config.yaml`` and ``classes.json`` beside it, so the folder reads as a run folder
(``workflow.rundir``). Prints the file size. The model card (``MODEL_CARD.md``) is written by
hand from the run's evaluation.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import h5py
import numpy as np

from fashion_mrcnn.workflow import rundir


def half_precision_copy(src: Path, dst: Path) -> None:
    """Copy an ``.h5`` checkpoint, storing every float32 weight array as float16 (refused when
    a value does not fit float16's range)."""
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        for key, value in fin.attrs.items():
            fout.attrs[key] = value

        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                group = fout.require_group(name)
                for key, value in obj.attrs.items():
                    group.attrs[key] = value
            elif obj.dtype == np.float32:
                data = obj[()]
                if np.abs(data).max(initial=0.0) > np.finfo(np.float16).max:
                    raise ValueError(f"{src}: {name} does not fit float16")
                fout.create_dataset(name, data=data.astype(np.float16), compression="gzip")
            else:
                fout.create_dataset(name, data=obj[()])

        fin.visititems(copy)


def main(checkpoint: str) -> None:
    src = Path(checkpoint)
    out = rundir.STARTER_WEIGHTS
    out.parent.mkdir(parents=True, exist_ok=True)
    half_precision_copy(src, out)
    for name in (rundir.CONFIG_FILE, rundir.CLASSES_FILE):
        found = rundir.find_run_file(src, name)
        if found is None:
            raise SystemExit(f"{name} not found above {src}")
        shutil.copyfile(found, out.parent / name)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB (from {src})")


if __name__ == "__main__":
    main(sys.argv[1])
