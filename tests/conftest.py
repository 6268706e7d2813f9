"""Session-wide test settings: quiet TensorFlow, the Keras backend, and the shared data paths."""

import os
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
CCP_DIR = (REPO_ROOT / ".." / "shared" / "datasets" / "ccp-fashion").resolve()


@pytest.fixture(scope="session")
def ccp_dir() -> Path:
    """The real street-fashion sample beside the repo; tests using it skip where it is absent."""
    if not (CCP_DIR / "train.csv").is_file():
        pytest.skip(f"ccp-fashion sample not found at {CCP_DIR} (it lives in ../shared/datasets)")
    return CCP_DIR


@pytest.fixture()
def eager():
    """Run ``tf.function``s eagerly for one test: a ``train`` call with a step or two then skips
    tracing its step (about 15-30 s on 2 CPU cores); callbacks, checkpoints and learning-rate
    schedules behave the same. (tf.data functions stay traced, as TensorFlow warns.)"""
    import tensorflow as tf

    # the filter lives as long as pytest's per-test warnings capture
    warnings.filterwarnings("ignore", message="Even though the `tf.config", category=UserWarning)
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


#: Test modules that build, train and detect with the model, run the notebooks and the CLI: the
#: subset (marker ``stack``) a CI leg runs where the whole suite does not fit (.ci/run).
STACK_MODULES = {
    "model/test_maskrcnn.py",
    "model/test_efficientnet_lite.py",
    "model/test_overfit.py",
    "model/test_weights.py",
    "model/test_distributed.py",
    "model/test_training_guards.py",
    "model/test_checkpoint_kill.py",
    "model/test_export.py",
    "notebooks/test_notebooks_smoke.py",
    "notebooks/test_colab_setup.py",
    "model/test_train_errors.py",
    "workflow/test_cli.py",
    "workflow/test_cli_exit.py",
    "workflow/test_remote_weights.py",
    "test_predict.py",
    "test_runtime.py",
    "mrcnn/test_matterport_notebook.py",
    "workflow/test_voc_workflow.py",
}


# Parallel runs (`make test` passes `-n 2` to pytest-xdist): each worker is its own process with
# its own session fixtures, so tests that share an expensive session fixture must land on one
# worker. The scheduler below hands out whole files, and these folders whole (their conftest
# trains a model or runs the notebooks once per session), the units with the most tests first.
# (xdist's own `--dist loadgroup` marks do not take effect under pytest 9.2: it renames node ids
# through an attribute pytest no longer reads.)
SHARED_SESSION_FOLDERS = ("app", "hostile", "notebooks")


#: The units that take minutes (their session fixtures train a model or run the notebooks),
#: handed out first, longest first, so that no worker starts one of them near the end while the
#: other idles; the other units follow by their number of tests, as xdist orders them.
SLOW_UNITS_FIRST = ("notebooks", "app", "hostile")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # the order below is the schedule's order
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    for item in items:
        relative = Path(item.fspath).resolve().relative_to(REPO_ROOT / "tests")
        if relative.as_posix() in STACK_MODULES:
            item.add_marker(pytest.mark.stack)
    units = [scheduling_unit(item.nodeid) for item in items]
    sizes = Counter(units)
    first = {unit: units.index(unit) for unit in set(units)}

    def rank(k: int):
        unit = units[k]
        slow = SLOW_UNITS_FIRST.index(unit) if unit in SLOW_UNITS_FIRST else len(SLOW_UNITS_FIRST)
        return slow, -sizes[unit], first[unit], k

    items[:] = [items[k] for k in sorted(range(len(items)), key=rank)]


def scheduling_unit(nodeid: str) -> str:
    """The scheduling unit of a test id: its folder for SHARED_SESSION_FOLDERS, else its file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[1] in SHARED_SESSION_FOLDERS else path


@pytest.hookimpl(optionalhook=True)  # a run without pytest-xdist (`-p no:xdist`) still starts
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FileOrFolderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scheduling_unit(nodeid)

    return FileOrFolderScheduling(config, log)
