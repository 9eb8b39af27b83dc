"""Class labels of a conditional model: checks of what users pass, and labels drawn per example.

Labels are integers in [0, num_classes), one per image, shape (batch,) (a trailing axis of one,
(batch, 1), is accepted too). Bad labels fail with a ValueError: before training where that costs
nothing (arrays in memory; a dataset's `element_spec`: labels present, integer, of the right
rank), and for a dataset's values inside the step, before the batch reaches any weight.
"""

import contextlib
import re

import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import distribute

# Marks the in-step assertion, so that `raising_bad_labels` can turn it into a ValueError.
_BAD_LABELS = "tfgen: bad labels"
_BAD_LABELS_PATTERN = re.compile(re.escape(f"[{_BAD_LABELS}]") + r" \[(\d+)\] \[([^\]]*)\]")


def check_num_classes(num_classes):
    """`None` (unconditional) or an int >= 2."""
    return checks.integer(num_classes, "num_classes", minimum=2, optional=True)


def _missing(num_classes, what):
    return ValueError(
        f"a conditional GAN (num_classes={num_classes}) trains on (images, labels) batches, "
        f"got {what}: load the data with tfgen.data.load(..., with_labels=True), or pass "
        "fit(images, labels)"
    )


def _check_dtype(dtype, num_classes):
    dtype = tf.as_dtype(dtype)
    if not dtype.is_integer or dtype == tf.uint64:
        raise ValueError(
            f"labels must be integers in [0, {num_classes}) (int32 or int64), got dtype "
            f"{dtype.name}"
        )


def _check_rank(shape, num_classes):
    shape = tuple(shape)
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise ValueError(
            f"labels must have shape (batch,) (or (batch, 1)), one integer in "
            f"[0, {num_classes}) per image, got shape {shape}"
        )


def check_values(labels, num_classes, argument="labels"):
    """Numpy labels: integers, one axis, every value in [0, num_classes). Returns int32 (n,)."""
    array = np.asarray(labels)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{argument} must be integers in [0, {num_classes}), got dtype {array.dtype}"
        )
    _check_rank(array.shape, num_classes)
    array = array.reshape(-1)
    bad = array[(array < 0) | (array >= num_classes)]
    if bad.size:
        raise ValueError(
            f"{argument} must lie in [0, {num_classes}) (num_classes={num_classes}), got "
            f"{bad[:5].tolist()}{' ...' if bad.size > 5 else ''}"
        )
    return array.astype(np.int32)


def check_training_data(x, y, num_classes):
    """What `fit`/`evaluate` receive for a conditional model: labels present, integer, in range.

    A dataset's labels are checked from its `element_spec` (no batch is drawn); their values are
    checked in the step (`labels_of`).
    """
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            raise _missing(num_classes, f"a dataset of images alone ({spec})")
        _check_dtype(spec[1].dtype, num_classes)
        _check_rank(spec[1].shape, num_classes)
    elif isinstance(x, np.ndarray | tf.Tensor):
        if y is None:
            raise _missing(num_classes, "images without labels (y=None)")
        check_values(np.asarray(y), num_classes)
        if len(np.asarray(y)) != len(x):
            raise ValueError(f"got {len(x)} images but {len(np.asarray(y))} labels")


def labels_of(data, num_classes):
    """The int32 labels (batch,) of a training batch, checked against `num_classes` in the step."""
    if not isinstance(data, tuple) or len(data) < 2 or data[1] is None:
        raise _missing(num_classes, "batches of images alone")
    labels = data[1]
    _check_dtype(labels.dtype, num_classes)
    _check_rank(labels.shape, num_classes)
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    ok = tf.reduce_all((labels >= 0) & (labels < num_classes))
    bad = tf.boolean_mask(labels, tf.logical_not((labels >= 0) & (labels < num_classes)))
    check = tf.debugging.Assert(ok, [_BAD_LABELS, num_classes, bad], summarize=5)
    with tf.control_dependencies([check]):
        return tf.identity(labels)


@contextlib.contextmanager
def raising_bad_labels():
    """Turns the in-step label assertion of `labels_of` into a ValueError naming the labels."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        found = _BAD_LABELS_PATTERN.search(error.message or "")
        if found is None:
            raise
        num_classes, values = found.groups()
        raise ValueError(
            f"labels must lie in [0, {num_classes}) (num_classes={num_classes}), got "
            f"[{values.strip()}] in a batch"
        ) from None


def draw(num_classes, local_batch_size, seed):
    """Uniform labels for this replica's examples, the ones one device draws (per example)."""
    draws = distribute.per_example_uniform([1], local_batch_size, seed)
    return distribute.uniform_integers(draws[:, 0], num_classes)
