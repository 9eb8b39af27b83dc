"""Checks of the training images, shared by the models, run before any training step."""

import numpy as np
import tensorflow as tf

# Images inside the models lie in [-1, 1] (tanh outputs); a little slack for resizing overshoot.
IMAGE_RANGE = (-1.0, 1.0)
_RANGE_TOLERANCE = 1e-3


def images_of(data):
    """The images of a batch that may come as `(images, labels)`."""
    return data[0] if isinstance(data, tuple) else data


def check_shape(shape, expected, model):
    """Rank 4 and the model's image shape; `model` names what the images must fit."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            f"images must have rank 4, (batch, height, width, channels), got shape {shape}"
        )
    if shape[1:] != tuple(expected):
        raise ValueError(
            f"the images have shape {shape[1:]} but the {model} {tuple(expected)}: resize the "
            "data (e.g. tfgen.data.load(..., image_size=...)) or build the networks for this shape"
        )


def allowed_range():
    """The lowest and highest pixel values accepted, the tanh range with its slack."""
    return IMAGE_RANGE[0] - _RANGE_TOLERANCE, IMAGE_RANGE[1] + _RANGE_TOLERANCE


def check_range(images):
    finite = np.isfinite(images)
    if not finite.all():
        raise ValueError(
            f"the images hold {int(np.size(images) - finite.sum())} non-finite values (NaN or "
            "inf): the images must be finite; clean or drop the bad examples"
        )
    low, high = float(np.min(images)), float(np.max(images))
    lowest, highest = allowed_range()
    if low < lowest or high > highest:
        raise ValueError(
            f"the images must lie in [-1, 1] (the models' tanh range), got values in "
            f"[{low:g}, {high:g}]: rescale them (x / 127.5 - 1 for 8-bit pixels) or load them "
            "with tfgen.data.load"
        )


def check_training_data(x, expected, model):
    """Shape and range of what `fit`/`evaluate` receive, where that costs nothing.

    A dataset: the shape from its `element_spec`, without drawing a batch (its values are
    checked inside the training step). Arrays in memory: shape and values.
    """
    if isinstance(x, tf.data.Dataset):
        check_shape(images_of(x.element_spec).shape, expected, model)
    elif isinstance(x, np.ndarray | tf.Tensor):
        check_shape(x.shape, expected, model)
        check_range(np.asarray(x))
