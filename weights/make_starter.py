"""Pack a training run's checkpoint as the shipped starter model (``weights/starter/``).

    .venv/bin/python weights/make_starter.py RUN/logs/<run>/mask_rcnn_<name>_<epoch>.h5 \
        [--detection-min-confidence 0.5]

Writes ``weights/starter/mask_rcnn_starter.h5`` (the checkpoint's weights stored as float16, half
the size; ``MaskRCNN.load_weights`` casts them back to float32), copies the run's
``classes.json`` and writes its ``train_config.yaml`` beside it, so the folder reads as a run
folder (``workflow.rundir``). ``--detection-min-confidence`` replaces the run's
DETECTION_MIN_CONFIDENCE in that config: an inference-only setting (training never reads it), for
a checkpoint trained before its preset's value changed; the model card says so. Prints the file
size. The model card (``MODEL_CARD.md``) is written by hand from the run's evaluation.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import h5py
import numpy as np

from fashion_mrcnn.config import Config
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--detection-min-confidence", type=float)
    args = parser.parse_args(argv)
    src = Path(args.checkpoint)
    out = rundir.STARTER_WEIGHTS
    out.parent.mkdir(parents=True, exist_ok=True)
    found = {}
    for name in (rundir.CONFIG_FILE, rundir.CLASSES_FILE):
        found[name] = rundir.find_run_file(src, name)
        if found[name] is None:
            raise SystemExit(f"{name} not found above {src}")
    half_precision_copy(src, out)
    shutil.copyfile(found[rundir.CLASSES_FILE], out.parent / rundir.CLASSES_FILE)
    config = Config.from_yaml(found[rundir.CONFIG_FILE])
    if args.detection_min_confidence is not None:
        config = config.replace(DETECTION_MIN_CONFIDENCE=args.detection_min_confidence)
    rundir.write_config(config, out.parent)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB (from {src})")


if __name__ == "__main__":
    main()
