"""`StepBackup`: the whole training state every few steps, atomically and checksummed."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile

import keras
import numpy as np

from tfgen import _checks as checks
from tfgen import _files
from tfgen.callbacks._common import (
    _model_variables,
    is_chief,
)

#: Files of a `StepBackup` in its directory: the latest state and the one before it.
BACKUP_FILES = ("state.npz", "previous.npz")


def training_variables(model):
    """Every variable `fit` changes: the model's (weights, moving averages, EMA networks, step
    counters) and those of each optimizer it holds (slots, iteration counters, learning rate)."""
    variables, seen = [], set()
    for variable in [*model.variables, *_model_variables(model)]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def metric_variables(model):
    """The variables of the metrics `fit` logs (`model.metrics`): the running sums and counts
    of the epoch so far, which Keras resets at each epoch's start."""
    variables, seen = [], set()
    for metric in getattr(model, "metrics", None) or []:
        for variable in metric.variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def _digest(names, arrays):
    digest = hashlib.sha256()
    for name, array in zip(names, arrays):
        digest.update(name.encode())
        digest.update(str(array.dtype).encode() + str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _read_state(path):
    """(metadata, arrays, metric arrays) of a backup file; ValueError saying why when it is not
    intact. A backup written before metrics were backed up has no metric arrays."""
    try:
        with np.load(path, allow_pickle=False) as file:
            metadata = json.loads(str(file["metadata"]))
            arrays = [file[f"v{i}"] for i in range(len(metadata["names"]))]
            metric_names = metadata.get("metric_names", [])
            metrics = [file[f"m{i}"] for i in range(len(metric_names))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is truncated or corrupt ({type(error).__name__}: {error})"
        ) from error
    if _digest(metadata["names"] + metric_names, arrays + metrics) != metadata["sha256"]:
        raise ValueError(f"{path} is corrupt: its contents do not match their SHA-256 checksum")
    return metadata, arrays, metrics


class StepBackup(keras.callbacks.Callback):
    """Backs up the whole training state every few steps and at each epoch end, atomically.

    Put it after the callbacks that write the epoch's history, so that a backup at an epoch end
    never runs ahead of the history (a kill between the two makes the resumed run train the
    epoch's last steps again and write its row then).

    The state is every variable of `training_variables(model)`, the number of training steps
    done and the metrics of the epoch so far (`metric_variables`); `restore` puts it back, so
    training continued from it takes the same steps as an uninterrupted run (given the same
    data stream from that step on: `tfgen.runs.Run.fit` skips the batches already consumed),
    and an epoch resumed inside logs the metrics of all its steps (`Run.fit` puts the restored
    metrics back after Keras resets them at the epoch's start). Each backup is written to a
    temporary file, flushed to disk and renamed to `state.npz`; the backup before it is kept
    as `previous.npz`. A file that is truncated or whose SHA-256 checksum does not match is
    never loaded: `restore` warns and falls back to the previous backup. A state holding NaN
    or infinite values is not backed up. Only the chief worker writes (`is_chief`).

    Args:
        backup_dir: Directory of the backup files.
        every_n_steps: Back up after every this many steps too; None: at epoch ends only.
        initial_step: Steps already done when training starts (from `restore`).

    Attributes:
        step: Training steps done so far.
    """

    def __init__(self, backup_dir, every_n_steps=None, initial_step=0):
        super().__init__()
        if every_n_steps is not None:
            every_n_steps = checks.positive_int(every_n_steps, "every_n_steps")
        self.backup_dir = os.path.abspath(os.fspath(backup_dir))
        self.every_n_steps = every_n_steps
        self.step = int(initial_step)
        self._saved_step = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        # An epoch's last step is backed up at the epoch end, after the history has its row.
        last_of_epoch = batch + 1 == (self.params or {}).get("steps")
        if self.every_n_steps and self.step % self.every_n_steps == 0 and not last_of_epoch:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.step != self._saved_step:
            self.save()

    def save(self):
        """Writes the state now (unless it is not finite); returns whether it did."""
        variables = training_variables(self.model)
        names = [getattr(v, "path", None) or v.name for v in variables]
        arrays = [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]
        # Read on every worker: under a multi-worker strategy reading a metric's variables
        # sums them across the workers, a collective that all of them must join.
        metrics = metric_variables(self.model)
        metric_names = [getattr(v, "path", None) or v.name for v in metrics]
        metric_arrays = [np.asarray(keras.ops.convert_to_numpy(v)) for v in metrics]
        for name, array in zip(names, arrays):
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                warnings.warn(
                    f"Step {self.step}: {name} is not finite; not backing up, "
                    f"{self.backup_dir} keeps the last good state.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return False
        self._saved_step = self.step
        if not is_chief():
            return False
        digest = _digest(names + metric_names, arrays + metric_arrays)
        metadata = dict(step=self.step, names=names, metric_names=metric_names, sha256=digest)
        latest, previous = (os.path.join(self.backup_dir, name) for name in BACKUP_FILES)
        with _files.replaced_atomically(latest, previous=previous, durable=True) as staging:
            with open(staging, "wb") as file:
                np.savez(
                    file,
                    metadata=np.asarray(json.dumps(metadata)),
                    **{f"v{i}": array for i, array in enumerate(arrays)},
                    **{f"m{i}": array for i, array in enumerate(metric_arrays)},
                )
        return True

    @staticmethod
    def restore(backup_dir, model):
        """Loads the latest intact backup into `model`; returns its step count (None: none).

        The metrics' state is restored too when the backup holds that of the same metrics.

        Raises:
            ValueError: backup files exist but none is intact, or they hold another model's
                variables (other names or shapes).
        """
        paths = [os.path.join(os.fspath(backup_dir), name) for name in BACKUP_FILES]
        paths = [path for path in paths if os.path.exists(path)]
        if not paths:
            return None
        problems = []
        for path in paths:
            try:
                metadata, arrays, metric_arrays = _read_state(path)
            except ValueError as error:
                problems.append(str(error))
                warnings.warn(f"{error}; trying the backup before it.", RuntimeWarning, 2)
                continue
            # Names carry per-process suffixes (adam_1/...); the shapes in order must match.
            variables = training_variables(model)
            shapes = [tuple(v.shape) for v in variables]
            if shapes != [a.shape for a in arrays]:
                raise ValueError(
                    f"{path} holds the state of another model ({len(arrays)} variables, this "
                    f"model has {len(variables)} or other shapes): resume with the same "
                    "settings, or pass --overwrite"
                )
            for variable, array in zip(variables, arrays):
                variable.assign(array)
            metrics = metric_variables(model)
            if [tuple(v.shape) for v in metrics] == [a.shape for a in metric_arrays]:
                for variable, array in zip(metrics, metric_arrays):
                    variable.assign(array)
            return int(metadata["step"])
        raise ValueError(
            f"No intact backup to resume from in {backup_dir}: {'; '.join(problems)}. Pass "
            "--overwrite to start afresh (checkpoint.keras holds the last good model)."
        )
