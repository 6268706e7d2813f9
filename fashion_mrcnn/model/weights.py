"""Weight files: Matterport / Keras 2 ``.h5`` by layer name, our native ``.weights.h5`` (the
download helpers live in :mod:`fashion_mrcnn.model.downloads` and are re-exported here).

Keras 2 ``.h5`` layout (what ``mask_rcnn_coco.h5`` and the Keras ResNet50 "notop" file use): the
root (or a top group ``model_weights``) has attribute ``layer_names``; each layer group has
attribute ``weight_names`` ("conv1/kernel:0", ...; bytes or str depending on h5py) naming datasets
inside the group. A nested model (Matterport's ``rpn_model``) is one group whose weight names start
with the inner layer names ("rpn_conv_shared/kernel:0").

Keras 3's own ``load_weights`` does not load such files into nested models, so this module reads
them with h5py and assigns by layer name, recursing into our nested models.

What must fit. A file is refused (WeightsError naming the missing layers, nothing assigned) when a
layer the caller *requires* is absent from it. By default every weighted layer of the model is
required except the ones ``exclude`` names: inference needs every weighted layer of the inference
graph, and training from a file needs everything but the heads it excludes. The training and
inference graphs hold the same weighted layers, so one rule serves both. Callers that load a file
which is partial by design narrow ``required`` (``MaskRCNN``'s backbone loader asks only for the
backbone layers of the ImageNet / BACKBONE_WEIGHTS file). ``allow_partial=True`` loads whatever
fits and reports the rest, but a file sharing no layer with the model is still refused. Arrays
holding NaN or inf are refused too (a checkpoint of diverged training), naming file and layer.

The attribute head's layers (``heads.ATTRIBUTE_LAYERS``) are never required from a file that
holds none of them (Matterport's files, checkpoints of models without the head): they keep their
initial values and the report lists them as ``initialised``.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import keras
import numpy as np

from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.model.downloads import (  # noqa: F401 (re-exported: weights.download...)
    COCO_URL,
    IMAGENET_RESNET50_URL,
    download,
    download_coco_weights,
    download_imagenet_resnet50,
)
from fashion_mrcnn.model.heads import ATTRIBUTE_LAYERS

HEAD_LAYERS = ("mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask")


@dataclass
class LoadReport:
    """What :func:`load_weights` did, by layer name.

    ``loaded``: layers whose weights were assigned; ``skipped``: layers in the file and the model
    left alone because of ``exclude``; ``missing``: weighted layers of the model absent from the
    file; ``unused``: layers in the file with no layer of that name in the model; ``partial``:
    layers where only some file weights fitted (BatchNorm file weights into a GroupNorm layer:
    gamma/beta loaded, moving statistics dropped); ``not_loaded``: required layers absent from
    the file that ``allow_partial`` let through (they keep their initial values);
    ``initialised``: the attribute head's layers, absent from a file made without the head
    (they keep their initial values; not an error).
    """

    path: str = ""
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"weights {self.path}: {len(self.loaded)} layers loaded, {len(self.skipped)} skipped "
            f"(exclude), {len(self.missing)} missing from file, {len(self.unused)} unused in file"
        ]
        for label, names in (
            ("skipped", self.skipped),
            ("missing", self.missing),
            ("unused", self.unused),
            ("partial (GroupNorm: gamma/beta only)", self.partial),
            ("NOT LOADED (allow_partial: initial values kept)", self.not_loaded),
            ("initialised (the attribute head: not in the file)", self.initialised),
        ):
            if names:
                lines.append(f"  {label}: {_shown(names)}")
        return "\n".join(lines)


def _shown(names, limit: int = 12) -> str:
    """ "a, b, c, ... (+N)": the first ``limit`` names of a list for a message."""
    names = list(names)
    more = f", ... (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _decode(names) -> list[str]:
    """h5py attributes hold bytes (h5py 2 / Keras 2 files) or str (h5py 3): return str."""
    return [n.decode("utf8") if isinstance(n, bytes | np.bytes_) else str(n) for n in names]


def _short(weight_name: str) -> str:
    """ "bn_conv1/moving_mean:0" -> "moving_mean"."""
    return weight_name.split("/")[-1].split(":")[0]


def leaf_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Every layer with weights, by name, recursing into nested models (rpn_model, backbones)."""
    out: dict[str, keras.layers.Layer] = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.update(leaf_layers(layer))
        elif layer.weights:
            out[layer.name] = layer
    return out


def read_h5_layers(path: str | Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Read a Keras 2 ``.h5`` weights file: ``{layer group name: [(weight name, array), ...]}``.

    Nested-model groups are split into their inner layers (by the weight names' first component),
    so the result is keyed by leaf layer name. Raises WeightsError naming the path when the file
    is missing, truncated, not HDF5 or lacks ``layer_names``.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in root.attrs:
                raise WeightsError(
                    f"{path}: not a Keras 2 / Matterport weights file (no 'layer_names' attribute)"
                )
            out: dict[str, list[tuple[str, np.ndarray]]] = {}
            for lname in _decode(root.attrs["layer_names"]):
                group = root[lname]
                wnames = _decode(group.attrs.get("weight_names", []))
                if not wnames:
                    continue
                arrays = [(w, np.asarray(group[w])) for w in wnames]
                prefixes = {w.split("/")[0] for w in wnames if "/" in w}
                if len(prefixes) > 1:
                    for w, a in arrays:  # nested model: split by inner layer name
                        out.setdefault(w.split("/")[0], []).append((w, a))
                else:
                    out[lname] = arrays
            return out
    except WeightsError:
        raise
    except (OSError, KeyError, ValueError) as e:
        raise WeightsError(f"cannot read weights file {path} (truncated or corrupt?): {e}") from e


def _match(layer, file_weights, path):
    """Pair the layer's variables with file arrays: by short name when all names agree, else in
    order. Returns (pairs, partial)."""
    variables = list(layer.weights)
    by_name = {_short(w): a for w, a in file_weights}
    names = [v.name.split("/")[-1].split(":")[0] for v in variables]
    if all(n in by_name for n in names):
        partial = len(by_name) > len(names)
        return [(v, by_name[n]) for v, n in zip(variables, names)], partial
    if len(variables) != len(file_weights):
        raise WeightsError(
            f"{path}: layer {layer.name!r} has {len(variables)} weights in the model but "
            f"{len(file_weights)} in the file ({[w for w, _ in file_weights]})"
        )
    return [(v, a) for v, (_, a) in zip(variables, file_weights)], False


def load_weights(
    keras_model: keras.Model,
    path: str | Path,
    by_name: bool = True,
    exclude=None,
    verbose=1,
    allow_partial: bool = False,
    required=None,
) -> LoadReport:
    """Load a Matterport / Keras 2 ``.h5`` into ``keras_model`` by layer name.

    ``exclude``: layer names to leave untouched (e.g. :data:`HEAD_LAYERS` when NUM_CLASSES
    differs from the file's 81). ``required``: the layer names that must be in the file (default:
    every weighted layer of the model); excluded layers are never required. A required layer
    absent from the file raises WeightsError naming it, unless ``allow_partial`` (then the
    layers that fit are loaded and the rest are reported in ``LoadReport.not_loaded``; a file
    with no layer of the model is refused even then). ``by_name=False`` requires every weighted
    model layer, ``allow_partial`` and ``required`` notwithstanding. A shape mismatch on a
    non-excluded layer, or a NaN / inf in an array to assign, raises WeightsError naming the
    layer. Nothing is assigned unless every check passes. Returns a :class:`LoadReport`
    (printed when ``verbose``).
    """
    exclude = set(exclude or ())
    file_layers = read_h5_layers(path)
    model_layers = leaf_layers(keras_model)
    report = LoadReport(path=str(path))
    assignments = []
    for name, layer in model_layers.items():
        if name not in file_layers:
            report.missing.append(name)
            continue
        if name in exclude:
            report.skipped.append(name)
            continue
        pairs, partial = _match(layer, file_layers[name], path)
        for var, arr in pairs:
            if tuple(var.shape) != tuple(arr.shape):
                raise WeightsError(
                    f"{path}: layer {name!r} weight {var.name!r} has shape {tuple(var.shape)} in "
                    f"the model but {tuple(arr.shape)} in the file (exclude={sorted(HEAD_LAYERS)} "
                    f"when the class count differs)"
                )
            _check_finite(arr, path, name, var.name)
        assignments.extend(pairs)
        report.loaded.append(name)
        if partial:
            report.partial.append(name)
    report.unused = [n for n in file_layers if n not in model_layers]
    report.skipped += [n for n in report.unused if n in exclude]
    if not by_name and report.missing:
        raise WeightsError(
            f"{path}: by_name=False but {len(report.missing)} model layers are not in the file "
            f"({_shown(report.missing, 5)})"
        )
    needed = model_layers if required is None else required
    if not any(n in file_layers for n in ATTRIBUTE_LAYERS):  # a file made without the head
        report.initialised = [n for n in ATTRIBUTE_LAYERS if n in report.missing]
    absent = [
        n
        for n in needed
        if n in report.missing and n not in exclude and n not in report.initialised
    ]
    if absent and not report.loaded:
        raise WeightsError(
            f"{path}: none of the model's {len(model_layers)} weighted layers "
            f"({_shown(model_layers, 5)}) is in the file, which holds {len(file_layers)} other "
            f"layers ({_shown(file_layers, 5)}): not weights for this model"
        )
    if absent and not allow_partial:
        raise WeightsError(
            f"{path}: {len(absent)} layers the model needs are missing from the file "
            f"({_shown(absent)}); pass exclude=[...] for layers to train from scratch, or "
            f"allow_partial=True (CLI --allow-partial) to load only what fits"
        )
    report.not_loaded = absent
    for var, arr in assignments:
        var.assign(arr.astype(var.dtype))
    if verbose:
        print(report)
    return report


def _check_finite(arr: np.ndarray, path, layer: str, weight: str) -> None:
    """WeightsError naming file, layer and weight when a float array holds NaN or inf."""
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int(arr.size - np.isfinite(arr).sum())
        raise WeightsError(
            f"{path}: layer {layer!r} weight {weight!r} holds {bad} NaN / inf values (a "
            f"checkpoint of diverged training?): use an earlier checkpoint"
        )


def non_finite_layers(keras_model: keras.Model) -> list[str]:
    """Names of the weighted layers of ``keras_model`` holding a NaN or inf value."""
    bad = []
    for name, layer in leaf_layers(keras_model).items():
        if not all(np.isfinite(np.asarray(v)).all() for v in layer.weights):
            bad.append(name)
    return bad


def save_checkpoint(keras_model: keras.Model, path: str | Path) -> Path:
    """Save every weighted layer of ``keras_model`` (nested models flattened) by layer name in
    the Keras 2 / Matterport ``.h5`` layout, atomically (temporary file, then ``os.replace``).

    Refuses (WeightsError) to save NaN / inf weights. Our training checkpoints use this format (not Keras 3's ``save_weights``, whose
    ``.weights.h5`` files are keyed by layer order and class, not by name, so they cannot move
    between the training and inference graphs). :func:`load_weights` reads them back, into
    either graph.
    """
    path = Path(path)
    bad = non_finite_layers(keras_model)
    if bad:
        raise WeightsError(f"not saving {path}: NaN / inf weights in layers {_shown(bad)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    layers = leaf_layers(keras_model)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = [n.encode("utf8") for n in layers]
            f.attrs["saved_by"] = b"fashion_mrcnn"
            for name, layer in layers.items():
                group = f.create_group(name)
                wnames = [f"{name}/{v.name}:0" for v in layer.weights]
                group.attrs["weight_names"] = [w.encode("utf8") for w in wnames]
                for w, v in zip(wnames, layer.weights):
                    group.create_dataset(w, data=np.asarray(v))
        with tmp.open("rb") as f:  # on disk before the rename, so a crash never leaves it empty
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def accept_plain_h5(keras_model: keras.Model) -> None:
    """Let ``keras_model.save_weights`` take a plain ``.h5`` path, as Matterport's
    ``model.keras_model.save_weights("mask_rcnn_shapes.h5")`` does (Keras 3 alone refuses any
    name not ending in ``.weights.h5``).

    Such a path is written by :func:`save_checkpoint` (the Keras 2 layout by layer name, NaN /
    inf refused), which ``MaskRCNN.load_weights`` reads back into either graph; ``overwrite=False``
    refuses an existing file. A ``.weights.h5`` path (or any other) goes to Keras's own
    ``save_weights`` unchanged.
    """
    keras_save = keras_model.save_weights

    def save_weights(filepath, overwrite=True, **kwargs):
        if str(filepath).endswith(".h5") and not is_native(filepath):
            if not overwrite and os.path.exists(filepath):
                raise WeightsError(f"{filepath} exists and overwrite=False")
            save_checkpoint(keras_model, filepath)
            return None
        return keras_save(filepath, overwrite=overwrite, **kwargs)

    keras_model.save_weights = save_weights


def load_native(keras_model: keras.Model, path: str | Path) -> None:
    """Load a Keras 3 ``.weights.h5`` (``keras_model.save_weights`` of the same graph and
    mode) into ``keras_model``; a NaN / inf array in the file is refused before loading."""
    path = str(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path}")
    try:
        with h5py.File(path, "r") as f:

            def check(name, obj):  # returns None: h5py stops visiting on any other value
                if isinstance(obj, h5py.Dataset):
                    _check_finite(np.asarray(obj), path, name.rsplit("/", 2)[0], name)

            f.visititems(check)
        # Keras warns once per nested container it cannot match (tens of KB for another
        # model's file); the warnings are kept and summed up in one line instead
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keras_model.load_weights(path)
    except WeightsError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise WeightsError(
            f"cannot load checkpoint {path} into this model: {_keras_reason(e)}"
        ) from None
    skipped = [w for w in caught if "no matching group found" in str(w.message)]
    if skipped:
        raise WeightsError(
            f"cannot load checkpoint {path} into this model: {len(skipped)} nested parts of the "
            f"model are not in the file ({str(skipped[0].message).split(':')[0]}); a .weights.h5 "
            "loads only into the graph and mode that saved it"
        )
    for w in caught:  # anything else Keras said, once each
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _keras_reason(exc: Exception) -> str:
    """One line for a Keras ``load_weights`` error (its own message lists every layer)."""
    text = str(exc)
    count = re.search(r"A total of (\d+) objects could not be loaded", text)
    example = re.search(r"Layer '([^']+)' expected (\d+) variables, but received (\d+)", text)
    if count:
        reason = f"{count.group(1)} of the model's layers are not in the file"
        if example:
            reason += (
                f" (e.g. {example.group(1)!r}: {example.group(2)} weights expected, "
                f"{example.group(3)} found)"
            )
        return reason + (
            ": not weights for this model (a .weights.h5 loads only into the graph and mode "
            "that saved it)"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:300]


def is_native(path: str | Path) -> bool:
    """True for a Keras 3 ``.weights.h5`` file, False for a Keras 2 / Matterport layout ``.h5``
    (Matterport's files and our checkpoints)."""
    return str(path).endswith(".weights.h5")
