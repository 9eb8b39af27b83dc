"""The data of a run: its held-out split, fixed images to show, and batches per epoch."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfgen._checks import MAX_STEPS, positive_int


def held_out_split(dataset, **load_arguments):
    """The "test" split of `dataset` in order, for validation, or None when it has none.

    `load_arguments` go to `tfgen.data.load` (image_size, channels, batch_size, ...).
    """
    from tfgen import data

    try:
        return data.load(
            dataset, split="test", shuffle=False, drop_remainder=False, **load_arguments
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"No held-out split used ({error}).", flush=True)
        return None


def first_images(dataset, count):
    """The first `count` images of a batched dataset, as one NumPy array."""
    positive_int(count, "count")
    batches, total = [], 0
    for batch in dataset:
        batches.append(np.asarray(batch))
        total += len(batches[-1])
        if total >= count:
            break
    return np.concatenate(batches)[:count]


def batches_per_epoch(data, steps_per_epoch=None):
    """`steps_per_epoch`, checked, or the number of batches of the finite dataset `data`."""
    if steps_per_epoch is not None:
        return positive_int(steps_per_epoch, "steps", MAX_STEPS)
    count = int(data.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("steps must be set for a dataset that repeats forever")
    if count == tf.data.UNKNOWN_CARDINALITY:
        count = int(data.reduce(np.int64(0), lambda total, _: total + 1))
    if count < 1:
        raise ValueError("the training data must hold at least one batch, got none")
    return count
