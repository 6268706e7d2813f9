"""The stage functions the CLI, the notebooks and the demo share, in one namespace.

Each function does one stage of the fashion workflow (explore, subset, train, evaluate,
oversample, compare, analyse errors, predict, submit, tune post-processing), writes its artifacts
into an output directory and returns a small dict (or DataFrame) describing them, so a notebook
cell or a CLI command is one call (``stages.train(...)``). Nothing here re-implements the data
layer, the engine or the metrics: it wires them. Tuning is :mod:`fashion_mrcnn.workflow.tuning`;
what a training run folder holds is :mod:`fashion_mrcnn.workflow.rundir`.

The functions live by job; this package re-exports every public name:

- :mod:`.data`: ``open_dataset``, ``ensure_synthetic``, ``synthetic_categories``, ``subset``,
  ``oversample``, ``explore``, ``check_ground_truth``, ``is_box_only``;
- :mod:`.training`: ``make_config``, ``recipe_override``, ``attribute_head_config``,
  ``steps_per_pass``, ``validation_steps_for``, ``train``, ``BUDGET_EPOCH_CAP``;
- :mod:`.infer`: ``inference_config``, ``load_inference_model``, ``load_detector``, ``predict``,
  ``submit``, ``tuned_postprocess`` (``AUTO_POSTPROCESS``), ``class_names_for``,
  ``category_ids_for``, ``class_map_for``;
- :mod:`.scoring`: ``evaluate``, ``kaggle_policies``, ``error_analysis``, ``compare``,
  ``tune_postprocess`` and their constants;
- :mod:`.common`: the helpers they share.

A caller that replaces a stage for a test patches this namespace (``monkeypatch.setattr(stages,
"train", ...)``): the CLI calls the stages through it. A stage calling another stage (e.g.
``error_analysis`` -> ``evaluate``) does so inside its own module.
"""

from fashion_mrcnn.workflow.stages.data import (
    check_ground_truth,
    ensure_synthetic,
    explore,
    is_box_only,
    open_dataset,
    oversample,
    subset,
    synthetic_categories,
)
from fashion_mrcnn.workflow.stages.infer import (
    AUTO_POSTPROCESS,
    category_ids_for,
    class_map_for,
    class_names_for,
    inference_config,
    load_detector,
    load_inference_model,
    predict,
    submit,
    tuned_postprocess,
)
from fashion_mrcnn.workflow.stages.scoring import (
    KAGGLE_TABLE,
    NO_MASK_METRICS,
    SEARCH_MAX_INSTANCES,
    SEARCH_MIN_CONFIDENCE,
    compare,
    error_analysis,
    evaluate,
    kaggle_policies,
    tune_postprocess,
)
from fashion_mrcnn.workflow.stages.training import (
    BUDGET_EPOCH_CAP,
    attribute_head_config,
    make_config,
    recipe_override,
    steps_per_pass,
    train,
    validation_steps_for,
)

__all__ = [
    "AUTO_POSTPROCESS",
    "BUDGET_EPOCH_CAP",
    "KAGGLE_TABLE",
    "NO_MASK_METRICS",
    "SEARCH_MAX_INSTANCES",
    "SEARCH_MIN_CONFIDENCE",
    "attribute_head_config",
    "category_ids_for",
    "check_ground_truth",
    "class_map_for",
    "class_names_for",
    "compare",
    "ensure_synthetic",
    "error_analysis",
    "evaluate",
    "explore",
    "inference_config",
    "is_box_only",
    "kaggle_policies",
    "load_detector",
    "load_inference_model",
    "make_config",
    "open_dataset",
    "oversample",
    "predict",
    "recipe_override",
    "steps_per_pass",
    "submit",
    "subset",
    "synthetic_categories",
    "train",
    "tune_postprocess",
    "tuned_postprocess",
    "validation_steps_for",
]
