"""A Keras metric that keeps the features (or images) it is fed, for metrics that need samples.

KID, precision/recall, SWD and the Inception score are functions of whole sample sets, not of
running sums, so their state is the samples themselves, kept on the host in numpy. Fed eagerly
they are appended directly; inside `tf.function` (and `strategy.run`, where each replica adds its
own share) through `tf.numpy_function`. `result()` computes in numpy.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import tensorflow as tf

__all__ = ["SampleMetric"]


class SampleMetric(keras.metrics.Metric):
    """Base class: `_keep(side, array)` stores a batch; `_kept(side)` returns all of a side."""

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self._lock = threading.Lock()
        self._samples = {}

    def _append(self, side, values):
        shapes = {batches[0].shape[1:] for batches in self._samples.values() if batches}
        if shapes and values.shape[1:] not in shapes:
            raise ValueError(
                f"{type(self).__name__}: {side} samples of shape {values.shape[1:]} do not match "
                f"those fed before, {shapes.pop()}"
            )
        with self._lock:
            self._samples.setdefault(side, []).append(np.array(values, np.float32))
        return np.int64(len(values))

    def _keep(self, side, values):
        if tf.executing_eagerly():
            self._append(side, keras.ops.convert_to_numpy(values))
            return
        tf.numpy_function(lambda v: self._append(side, v), [values], tf.int64, stateful=True)

    def _kept(self, side):
        """Everything kept on `side`, concatenated; a ValueError when nothing was fed."""
        batches = self._samples.get(side)
        if not batches:
            raise ValueError(
                f"{type(self).__name__} has no {side} samples; call update_state first"
            )
        return np.concatenate(batches)

    def _numpy_result(self, compute, keys):
        """`compute()` -> dict of floats, as float64 tensors under `keys`, eager or traced."""
        if tf.executing_eagerly():
            values = compute()
            return {key: tf.constant(values[key], tf.float64) for key in keys}
        outputs = tf.numpy_function(
            lambda: tuple(np.float64(compute()[key]) for key in keys),
            [],
            [tf.float64] * len(keys),
            stateful=True,
        )
        return dict(zip(keys, outputs))

    def reset_state(self):
        with self._lock:
            self._samples = {}
