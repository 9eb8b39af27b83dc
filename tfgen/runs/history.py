"""A run's metrics per epoch: read back from history.csv, written to TensorBoard."""

from __future__ import annotations

import csv
import math
import os

import keras
import tensorflow as tf

from tfgen import callbacks as tfgen_callbacks
from tfgen.plot import metric_group


def read_history(path):
    """Metrics per epoch from a CSVLogger file, keeping the last row written for each epoch.

    A resumed run appends the epochs it trains again; the later row of an epoch wins. Columns
    that are empty in every row ("NA" for absent validation metrics) are dropped.
    """
    if not os.path.exists(path):
        return {}
    rows = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            rows[int(row.pop("epoch"))] = row
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            history.setdefault(key, []).append(number)
    return {key: values for key, values in history.items() if not all(map(math.isnan, values))}


class GroupedScalars(keras.callbacks.Callback):
    """Writes the epoch's logs to TensorBoard grouped as `loss_curves` draws them.

    Each number `name` becomes the scalar `<metric_group(name)>/<name>` (e.g. "losses/d_loss",
    "discriminator outputs/d_real", "fid/fid", "fid/fid_floor") at step = epoch (from 1), in
    the run "train"; `val_<name>` goes to the run "validation" as `<group>/<name>`, so that
    TensorBoard draws both on one chart. Scores absent from an epoch (NaN) are not written.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self._writers = {}

    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_epoch_end(self, epoch, logs=None):
        if not tfgen_callbacks.is_chief():
            return
        for name, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            run, base = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            with self._writer(run).as_default():
                tf.summary.scalar(f"{metric_group(base)}/{base}", value, step=epoch + 1)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def tensorboard_callbacks(log_dir):
    """[GroupedScalars(log_dir)] when the tensorboard package is installed, else []."""
    if not tfgen_callbacks.tensorboard_available():
        print(
            "The tensorboard package is not installed: no TensorBoard logs "
            "(pip install tensorboard).",
            flush=True,
        )
        return []
    return [GroupedScalars(log_dir)]
