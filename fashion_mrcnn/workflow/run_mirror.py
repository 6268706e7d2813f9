"""A run folder on a URL (``gs://bucket/run``, ``ram://...``): trained in a local staging folder
and mirrored to the URL, file by file.

The rule. ``stages.train(..., out_dir=URL)`` (``fashion-mrcnn train DATA --out gs://bucket/run``)
trains into a local temporary folder laid out as any run folder (:mod:`workflow.rundir`) and
copies it to the URL: after every epoch (the new checkpoint, the CSV log, TensorBoard's event
files and the summary as they stand), at the end of each training stage, and once more when
training ends, however it ends (finished, diverged, failed). Each file goes up under a
temporary name (``NAME.tmp``) and is then renamed, so the URL never holds a half-written file
under its real name; only files that changed since they were last sent go up; a file the run
removed or renamed (a checkpoint set aside as ``*.h5.diverged``) is removed from the URL before
the new files go up, so a diverged checkpoint never stays there as the newest. The paths the
run reports (``train_summary.json``, the divergence message) are the URL's. The staging folder
is deleted once the last copy has gone up; when a copy fails, the error names the folder and it
is kept.

Why a staging folder rather than writing through ``tf.io.gfile``: the checkpoints are HDF5
files (h5py writes them in place, seeking), and the CSV log is appended to after each epoch;
object stores such as Cloud Storage can do neither, so those files are written locally and
sent whole.

``--resume`` from a URL (:func:`pull_run`, :func:`load_newest`): every file of the URL folder
but the checkpoints is copied down (the CSV log, which the divergence guard and the time budget
read, the summary, the event files), then the URL's checkpoints are listed
(``model.checkpoints.find_checkpoints`` lists a URL) and copied down newest first until one
loads; one that does not load is skipped, saying so, as a local ``--resume`` does. Training goes
on locally from it.

The commands that read a trained model (``--weights`` of evaluate, predict, submit,
tune-postprocess, export, serve, index, the ensembles) read a URL run folder or checkpoint
through :mod:`workflow.remote_weights`, which copies the checkpoint and the run files above it
into a local cache once; this module is for training only.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from pathlib import Path

from fashion_mrcnn import storage
from fashion_mrcnn.constants import CHECKPOINT_GLOB
from fashion_mrcnn.errors import WeightsError

__all__ = ["RunMirror", "load_newest", "pull_run", "staging_folder"]

#: The suffix of a file on its way up (renamed to its real name once complete).
UPLOAD_SUFFIX = ".tmp"


def _signature(path: Path) -> tuple[int, int]:
    """(size, modification time in ns): a file that kept both is not sent again."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _is_checkpoint(rel: str) -> bool:
    """A checkpoint, a set-aside one or a temporary (``mask_rcnn*.h5*``): not pulled."""
    return fnmatch.fnmatch(rel.rsplit("/", 1)[-1], CHECKPOINT_GLOB + "*")


def pull_run(url: str, local: str | Path) -> dict[str, tuple[int, int]]:
    """Copy every file of the URL run folder but its checkpoints (:func:`_is_checkpoint`) and
    unfinished uploads into ``local`` (same relative paths); return ``{relative path:
    signature}`` of the files copied."""
    pulled = {}
    for rel in storage.files_under(url):
        if _is_checkpoint(rel) or rel.endswith(UPLOAD_SUFFIX):
            continue
        target = Path(local, *rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        storage.copy(storage.join(url, rel), target)
        pulled[rel] = _signature(target)
    return pulled


def load_newest(model, url_logs: str, local_logs: str | Path, allow_partial: bool = False) -> str:
    """Load into ``model`` (a ``MaskRCNN``) the newest checkpoint under the URL ``url_logs``
    that loads, copied down to the same place under ``local_logs`` first (so the model's epoch
    and log dir are the local run's); return the local path.

    Newest first (``find_checkpoints``' order); a checkpoint that does not load is skipped with
    a printed line naming it and why (its local copy removed). FileNotFoundError when there is
    no checkpoint; WeightsError listing every failure when none loads (``MaskRCNN.load_last``'s
    contract, for a URL).
    """
    from fashion_mrcnn.model import checkpoints as C

    name = C.run_name(model.config.NAME)
    found = C.find_checkpoints(url_logs, name)
    if not found:
        raise FileNotFoundError(C.describe_search(url_logs, name))
    failures = []
    for url in found:
        rel = url[len(url_logs.rstrip("/")) :].strip("/")
        local = Path(local_logs, *rel.split("/"))
        local.parent.mkdir(parents=True, exist_ok=True)
        storage.copy(url, local)
        try:
            model.load_weights(str(local), by_name=True, allow_partial=allow_partial)
            return str(local)
        except WeightsError as exc:
            local.unlink()
            print(f"skipping checkpoint {url}: {exc}")
            failures.append(f"{storage.name(url)}: {exc}")
    raise WeightsError(
        f"none of the {len(found)} checkpoints under {url_logs} loads: " + "; ".join(failures)
    )


class RunMirror:
    """The URL run folder ``url`` kept equal to the local staging folder ``local`` (module
    docstring): :meth:`pull` and :meth:`resume` to continue the URL's run, :meth:`sync` after
    each epoch (:meth:`callback`), :meth:`close` at the end.

    ``sent``: ``{relative path: signature}`` of the files the URL holds as they are locally
    (sent, or pulled down by :meth:`pull`).
    """

    def __init__(self, local: str | Path, url: str):
        self.local = Path(local)
        self.url = str(url).rstrip("/")
        self.sent: dict[str, tuple[int, int]] = {}

    def _local(self, rel: str) -> Path:
        return Path(self.local, *rel.split("/"))

    def pull(self) -> None:
        """Copy the URL run's files but its checkpoints down (:func:`pull_run`), as sent."""
        self.sent.update(pull_run(self.url, self.local))

    def resume(self, model, allow_partial: bool = False) -> str:
        """:func:`load_newest` from the URL's ``logs/`` into the staging folder's; the copied
        checkpoint counts as sent (it is on the URL already). Returns its local path."""
        from fashion_mrcnn.workflow.rundir import LOGS_DIR

        url_logs, local_logs = storage.join(self.url, LOGS_DIR), self.local / LOGS_DIR
        path = Path(load_newest(model, url_logs, local_logs, allow_partial))
        self.sent[path.relative_to(self.local).as_posix()] = _signature(path)
        return str(path)

    def publish(self, path):
        """The URL of a path inside the staging folder (other paths and None as they are)."""
        if path is None:
            return None
        try:
            rel = Path(path).resolve().relative_to(self.local.resolve())
        except ValueError:  # not inside the staging folder: reported as it is
            return path
        return storage.join(self.url, *rel.parts) if rel.parts else self.url

    def publish_text(self, text: str) -> str:
        """``text`` with the staging folder's paths written as the URL's."""
        return text.replace(str(self.local.resolve()), self.url).replace(str(self.local), self.url)

    def sync(self) -> None:
        """Send every file that is new or changed since it was last sent (through a temporary
        name and a rename), after removing from the URL the files sent before that the run has
        removed or renamed since."""
        here = {}
        for rel in storage.files_under(self.local):
            if not rel.endswith(UPLOAD_SUFFIX):  # a checkpoint being written
                here[rel] = _signature(self._local(rel))
        for rel in [r for r in self.sent if r not in here]:
            target = storage.join(self.url, rel)
            if storage.exists(target):
                storage.remove(target)
            del self.sent[rel]
        for rel, signature in here.items():
            if self.sent.get(rel) == signature:
                continue
            target = storage.join(self.url, rel)
            storage.makedirs(storage.parent(target))
            storage.copy(self._local(rel), target + UPLOAD_SUFFIX)
            storage.replace(target + UPLOAD_SUFFIX, target)
            self.sent[rel] = signature

    def callback(self):
        """A Keras callback that calls :meth:`sync` after each epoch and at the end of training
        (it runs after the checkpoint, CSV and TensorBoard callbacks of ``model.train``)."""
        import keras

        mirror = self

        class SyncRunFolder(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                mirror.sync()

            def on_train_end(self, logs=None):
                mirror.sync()

        return SyncRunFolder()

    def close(self) -> None:
        """The last :meth:`sync`, then delete the staging folder. When the copy fails, an
        OSError names the URL and the kept staging folder (the cause chained)."""
        try:
            self.sync()
        except Exception as exc:  # gfile raises tf.errors.OpError, a local copy OSError
            raise OSError(
                f"copying the run folder to {self.url} failed ({exc}); the run is kept in "
                f"{self.local}"
            ) from exc
        shutil.rmtree(self.local)

    def __repr__(self) -> str:
        return f"RunMirror({str(self.local)!r} -> {self.url!r})"


def staging_folder() -> Path:
    """A new local temporary folder to train a URL run in."""
    return Path(tempfile.mkdtemp(prefix="fashion-mrcnn-run-"))
