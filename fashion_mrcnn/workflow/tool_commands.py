"""The tool sub-commands of ``fashion-mrcnn`` around the model: ``demo`` (``make demo``),
``tune`` and ``pipeline`` (notebooks run by papermill), ``cache`` (data packed into checksummed
shards) and ``weights`` (pretrained downloads): each handler with its parser (``register``).
The model commands are ``workflow.commands`` / ``workflow.command_args``.
"""

from __future__ import annotations

from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow.command_args import add_on_error_arguments, precision_arg
from fashion_mrcnn.workflow.commands import open_data


def cmd_demo(args) -> int:
    from fashion_mrcnn.workflow.demo import DEMO_IMAGES, run_demo

    report = run_demo(
        args.out,
        n_images=DEMO_IMAGES if args.images is None else args.images,
        size=args.size,
        minutes=args.minutes,
        seed=args.seed,
        precision=args.precision,
    )
    print(f"demo report: {report}")
    return 0


def cmd_tune(args) -> int:
    from fashion_mrcnn.workflow import rundir
    from fashion_mrcnn.workflow.overrides import parse_overrides
    from fashion_mrcnn.workflow.tuning import run_tune

    table = run_tune(
        args.grid, args.out, base_parameters=parse_overrides(args.overrides), smoke=args.smoke
    )
    print(table.drop(columns=["config"], errors="ignore").to_string(index=False))
    out = Path(args.out)
    print(f"ranked: {out / rundir.RANKED_FILE}  best config: {out / rundir.BEST_CONFIG_FILE}")
    return 0


def cmd_pipeline(args) -> int:
    from fashion_mrcnn.workflow.overrides import parse_overrides
    from fashion_mrcnn.workflow.pipeline import run_pipeline

    summary = run_pipeline(
        args.out,
        smoke=args.smoke,
        parameters=parse_overrides(args.overrides),
        stages=args.stages,
    )
    for stage, entry in summary.items():
        print(f"{stage}: {entry['seconds']:.0f} s -> {entry['notebook']}")
    return 0


def cmd_cache(args) -> int:
    from fashion_mrcnn.data.cache import pack_dataset, verify_cache
    from fashion_mrcnn.data.paths import find_splits
    from fashion_mrcnn.data.splits import SPLITS_NAME

    if args.verify:
        verify_cache(args.out)
        print(f"{args.out}: every shard checksum verified")
        return 0
    if not args.data:
        raise ConfigError("cache needs the DATA to pack (or --verify to check an existing cache)")
    dataset = open_data(args, args.split)
    manifest = pack_dataset(dataset, args.out, image_size=args.size, shard_size=args.shard_size)
    print(f"manifest: {manifest}")
    splits = find_splits(args.data)
    if splits is not None and not args.split:  # the whole set packed: its splits apply as they are
        storage.write_text(storage.join(args.out, SPLITS_NAME), storage.read_text(splits))
        print(f"splits: {splits} copied beside the manifest (train with --split as on the data)")
    return 0


#: ``fashion-mrcnn weights WHICH``: name -> (download function of ``model.weights``, file name).
WEIGHT_DOWNLOADS = {
    "coco": ("download_coco_weights", "mask_rcnn_coco.h5"),
    "imagenet-resnet50": (
        "download_imagenet_resnet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
}


def cmd_weights(args) -> int:
    from fashion_mrcnn.model import weights

    fetch_name, filename = WEIGHT_DOWNLOADS[args.which]
    fetch = getattr(weights, fetch_name)
    dest = Path(args.out)
    if dest.is_dir() or not dest.name.endswith(".h5"):
        dest = dest / filename
    kwargs = {"url": args.url} if args.url else {}
    path = fetch(dest, sha256=args.sha256, **kwargs)
    print(f"weights: {path}")
    return 0


def _notebook_run_args(p, set_metavar: str, set_help: str) -> None:
    """``--out``, ``--smoke`` and the repeatable ``--set`` of the commands that run notebooks."""
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data and few steps (minutes on a CPU)"
    )
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar=set_metavar, help=set_help
    )


def register(subparsers) -> None:
    """Add the tool sub-commands to ``subparsers`` (an argparse sub-parser action)."""
    p = subparsers.add_parser("demo", help="synthetic data -> short CPU training -> report")
    p.add_argument("--out", default="out/demo")
    p.add_argument(
        "--images",
        type=int,
        help="synthetic scenes, 4:1 train / held out (default: workflow.demo.DEMO_IMAGES)",
    )
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    p.add_argument("--seed", type=int, default=0)
    precision_arg(p)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser(
        "tune", help="run notebooks/01_subset_tuning once per grid point (papermill)"
    )
    p.add_argument(
        "--grid",
        required=True,
        metavar="GRID.yaml",
        help="01_subset_tuning parameter -> list of values",
    )
    _notebook_run_args(p, "NAME=VALUE", "fixed parameter for every trial (YAML value); repeatable")
    p.set_defaults(func=cmd_tune)

    p = subparsers.add_parser("pipeline", help="run notebooks 00-05 in order (papermill)")
    _notebook_run_args(
        p, "[STAGE.]NAME=VALUE", "notebook parameter (YAML value), e.g. seed=1 or 02.heads_epochs=4"
    )
    p.add_argument(
        "--stages",
        nargs="+",
        metavar="STAGE",
        help="only these stages, by name or number (e.g. 04 05)",
    )
    p.set_defaults(func=cmd_pipeline)

    p = subparsers.add_parser("cache", help="pack images + masks into checksummed TFRecord shards")
    p.add_argument("data", nargs="?", help="dataset to pack")
    p.add_argument("--out", required=True, help="cache directory")
    p.add_argument("--split")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--shard-size", type=int, default=500)
    p.add_argument("--verify", action="store_true", help="only verify an existing cache")
    add_on_error_arguments(p)
    p.set_defaults(func=cmd_cache)

    p = subparsers.add_parser("weights", help="download COCO or ImageNet weights (needs internet)")
    p.add_argument("which", choices=list(WEIGHT_DOWNLOADS))
    p.add_argument("--out", default="weights", help="folder or .h5 file path (default weights/)")
    p.add_argument("--url", help="a mirror to download from instead of the release URL")
    p.add_argument("--sha256", help="expected checksum of the file")
    p.set_defaults(func=cmd_weights)
