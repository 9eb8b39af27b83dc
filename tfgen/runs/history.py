"""A run's metrics per epoch: read back from history.csv, written to TensorBoard."""

from __future__ import annotations

import csv
import math
import os

import keras

from tfgen import callbacks as tfgen_callbacks


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


def tensorboard_callbacks(log_dir):
    """[keras.callbacks.TensorBoard(log_dir)] when the tensorboard package is installed, else []."""
    if not tfgen_callbacks.tensorboard_available():
        print(
            "The tensorboard package is not installed: no TensorBoard logs "
            "(pip install tensorboard).",
            flush=True,
        )
        return []
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0)]
