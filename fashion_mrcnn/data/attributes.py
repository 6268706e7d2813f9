"""The attribute vocabulary: source attribute ids <-> the attribute head's outputs, one owner.

Loaders keep each instance's SOURCE attribute ids (iMaterialist 2019 ``ClassId`` suffixes, 2020
``AttributesIds``, Fashionpedia ``attribute_ids``; the shard cache stores them too). The model's
attribute head has ``NUM_ATTRIBUTES`` sigmoid outputs; output ``k`` is source id
``config.attribute_ids()[k]`` (``Config.ATTRIBUTE_IDS``, saved in the run's config YAML, so
``detect`` maps outputs back to source ids with no data at hand).

- :func:`attribute_settings`: the four Config settings of a training set (``NUM_ATTRIBUTES``,
  ``ATTRIBUTE_IDS`` = the sorted attribute ids its instances carry, ``ATTRIBUTE_CLASS_IDS`` =
  the internal classes with at least one instance carrying attributes, ``ATTRIBUTE_NAMES`` =
  their names from the data's attribute list, :func:`vocabulary_names`); what ``train
  --attributes`` applies.
- :func:`multi_hot`: per-instance id lists -> the head's multi-hot targets.
- :func:`ids_of`: one row of head probabilities -> the source ids and scores above a threshold;
  :func:`detection_attributes`: the attribute entries of a ``detect()`` dict.

Ids outside the vocabulary (an attribute the training set never showed) are left out of the
targets: the head has no output for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fashion_mrcnn.errors import FashionDataError

__all__ = [
    "attribute_settings",
    "dataset_attributes",
    "detection_attributes",
    "ids_of",
    "multi_hot",
    "vocabulary_names",
]


def _image_attributes(dataset, image_id: int) -> tuple[list[int], list[list[int]]]:
    """(internal class ids [N], attribute id lists [N]) of one image, without decoding masks
    where the dataset allows it (a ``FashionDataset``'s records, a shard cache's included)."""
    if hasattr(dataset, "records") and hasattr(dataset, "internal_class_id"):
        rec = dataset.record(image_id)
        classes = [dataset.internal_class_id(int(i["category_id"])) for i in rec["instances"]]
        return classes, [list(i.get("attribute_ids", [])) for i in rec["instances"]]
    inst = dataset.load_instances(image_id)
    classes = [abs(int(c)) for c in inst["class_ids"]]
    attrs = inst.get("attribute_ids") or [[] for _ in classes]
    return classes, [list(a) for a in attrs]


def dataset_attributes(dataset) -> tuple[list[int], list[int]]:
    """``(attribute ids, class ids)``: the sorted source attribute ids the instances of a
    prepared dataset carry, and the sorted internal class ids of the instances carrying any."""
    ids: set[int] = set()
    classes: set[int] = set()
    for i in dataset.image_ids:
        class_ids, attrs = _image_attributes(dataset, int(i))
        for c, a in zip(class_ids, attrs, strict=True):
            if a:
                ids.update(int(v) for v in a)
                classes.add(abs(int(c)))
    return sorted(ids), sorted(classes)


def vocabulary_names(dataset, vocabulary: Sequence[int]) -> list[str]:
    """The name of each id of ``vocabulary`` [A] from ``dataset.attribute_names()`` (the source's
    attribute list: ``FashionDataset``, a shard cache), all A of them or ``[]``: an id the list
    does not name would shift or mislabel the others, so a partial list gives no names."""
    known = dataset.attribute_names() if hasattr(dataset, "attribute_names") else {}
    if not vocabulary or any(int(a) not in known for a in vocabulary):
        return []
    return [known[int(a)] for a in vocabulary]


def attribute_settings(dataset, name: str = "the training set") -> dict:
    """``{"NUM_ATTRIBUTES", "ATTRIBUTE_IDS", "ATTRIBUTE_CLASS_IDS", "ATTRIBUTE_NAMES"}`` for a
    model with the attribute head trained on ``dataset`` (see the module docstring);
    ``ATTRIBUTE_NAMES`` is ``[]`` unless the data names every id (:func:`vocabulary_names`).

    Raises:
        FashionDataError: no instance of ``dataset`` carries an attribute (``name`` says which
            data), e.g. synthetic scenes written without ``--attributes``.
    """
    ids, classes = dataset_attributes(dataset)
    if not ids:
        raise FashionDataError(
            f"{name}: no instance carries an attribute, so there is nothing for the attribute "
            "head to learn (synthetic scenes need `fashion-mrcnn synth --attributes`)"
        )
    return {
        "NUM_ATTRIBUTES": len(ids),
        "ATTRIBUTE_IDS": ids,
        "ATTRIBUTE_CLASS_IDS": classes,
        "ATTRIBUTE_NAMES": vocabulary_names(dataset, ids),
    }


def multi_hot(attribute_ids: Sequence[Sequence[int]], vocabulary: Sequence[int]) -> np.ndarray:
    """uint8 ``[N, A]``: row n has a 1 at output k when instance n carries ``vocabulary[k]``.

    ``attribute_ids``: N lists of source ids; ``vocabulary``: the A source ids of the head's
    outputs (``Config.attribute_ids()``). Ids outside the vocabulary are left out.
    """
    column = {int(a): k for k, a in enumerate(vocabulary)}
    if len(column) != len(vocabulary):
        raise FashionDataError(f"attribute vocabulary repeats an id: {list(vocabulary)}")
    out = np.zeros((len(attribute_ids), len(vocabulary)), dtype=np.uint8)
    for n, ids in enumerate(attribute_ids):
        cols = [column[int(a)] for a in ids if int(a) in column]
        out[n, cols] = 1
    return out


def ids_of(
    probs: np.ndarray, vocabulary: Sequence[int], threshold: float
) -> tuple[list[int], list[float]]:
    """One instance's head probabilities ``[A]`` -> ``(source ids, scores)`` of the outputs
    scoring at least ``threshold``, by increasing id."""
    probs = np.asarray(probs, dtype=np.float32).reshape(-1)
    if probs.size != len(vocabulary):
        raise ValueError(f"{probs.size} attribute scores for a vocabulary of {len(vocabulary)}")
    pairs = sorted(
        (int(vocabulary[k]), float(probs[k])) for k in np.flatnonzero(probs >= threshold)
    )
    return [a for a, _ in pairs], [s for _, s in pairs]


def detection_attributes(probs, class_ids, config) -> dict:
    """The attribute entries of one image's ``detect()`` dict from the head's probabilities.

    probs: float [N, A] (NUM_ATTRIBUTES outputs, in ``config.attribute_ids()`` order);
    class_ids: int [N] internal. Returns ``attribute_probs`` float32 [N, A], and per instance the
    source ids scoring at least DETECTION_ATTRIBUTE_THRESHOLD, ``attribute_ids`` (N lists, by
    increasing id), with their ``attribute_scores`` (N lists of floats); both empty for a class
    outside ATTRIBUTE_CLASS_IDS when that is given (the head never learnt those classes).
    """
    class_ids = np.asarray(class_ids).reshape(-1)
    probs = np.asarray(probs, dtype=np.float32).reshape(len(class_ids), -1)
    vocabulary = config.attribute_ids()
    carriers = {int(c) for c in config.ATTRIBUTE_CLASS_IDS}
    ids, scores = [], []
    for p, c in zip(probs, class_ids, strict=True):
        found = ([], [])
        if not carriers or int(c) in carriers:
            found = ids_of(p, vocabulary, config.DETECTION_ATTRIBUTE_THRESHOLD)
        ids.append(found[0])
        scores.append(found[1])
    return {"attribute_ids": ids, "attribute_scores": scores, "attribute_probs": probs}
