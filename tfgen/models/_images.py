"""Checks of the training images, shared by the models, run before any training step."""

import warnings

import numpy as np
import tensorflow as tf

from tfgen import images as tfgen_images

# Images inside the models lie in [-1, 1] (tanh outputs); `tfgen.images` holds the slack.
IMAGE_RANGE = tfgen_images.MODEL_RANGE


def images_of(data):
    """The images of a batch that may come as `(images, labels)`."""
    return data[0] if isinstance(data, tuple) else data


def check_shape(shape, expected, model):
    """Rank 4 and the model's image shape; `model` names what the images must fit.

    Dimensions not known yet (None, as a `from_generator` dataset declares them) pass here:
    they are checked on real batches.
    """
    shape = tf.TensorShape(shape)
    if shape.rank is None:
        return
    shape = tuple(shape.as_list())
    if len(shape) != 4:
        raise ValueError(
            f"images must have rank 4, (batch, height, width, channels), got shape {shape}"
        )
    if not tf.TensorShape(shape[1:]).is_compatible_with(expected):
        raise ValueError(
            f"the images have shape {shape[1:]} but the {model} {tuple(expected)}: resize the "
            "data (e.g. tfgen.data.load(..., image_size=...)) or build the networks for this shape"
        )


def allowed_range():
    """The lowest and highest pixel values accepted, the tanh range with its slack."""
    return tfgen_images.allowed_range(IMAGE_RANGE)


_UNIT_RANGE_ADVICE = (
    "the training images never go below 0: they look like pixels in [0, 1], but the models "
    "expect [-1, 1] (their tanh range); rescale them with x * 2 - 1 (or load them with "
    "tfgen.data.load, whose value_range is (-1, 1))"
)
_warned_unit_range = []


def warn_if_unit_range(images):
    """Warns once per process when `images` (non-empty) lie in [0, 1] but not in [-1, 0)."""
    images = np.asarray(images)
    if _warned_unit_range or images.size == 0 or not np.isfinite(images).all():
        return
    if float(np.min(images)) >= 0.0 and float(np.max(images)) > 0.0:
        _warned_unit_range.append(True)
        warnings.warn(_UNIT_RANGE_ADVICE, UserWarning, stacklevel=4)


def check_range(images):
    """The training images in memory: non-empty, finite and in [-1, 1] (`tfgen.images`)."""
    tfgen_images.check_range(images, "the training images", IMAGE_RANGE, "the models' tanh range")


def check_training_data(x, expected, model):
    """Shape and range of what `fit`/`evaluate` receive, where that costs nothing.

    A dataset: the shape from its `element_spec`, without drawing a batch (its values are
    checked inside the training step). Arrays in memory: shape and values.
    """
    if isinstance(x, tf.data.Dataset):
        if int(x.cardinality()) == 0:
            raise ValueError("the training dataset is empty: it holds no batch")
        shape = images_of(x.element_spec).shape
        check_shape(shape, expected, model)
        if shape.rank is None or not shape[1:].is_fully_defined():
            # Shapes the pipeline cannot state (from_generator, ...): what a first batch holds.
            # Only then is a batch drawn, as that moves a reshuffling dataset's order.
            first = next(iter(x.take(1)), None)
            if first is None:
                raise ValueError("the training dataset is empty: it holds no batch")
            images = images_of(first)
            check_shape(images.shape, expected, model)
            warn_if_unit_range(images)
    elif isinstance(x, np.ndarray | tf.Tensor):
        check_shape(x.shape, expected, model)
        check_range(np.asarray(x))
        warn_if_unit_range(x)
