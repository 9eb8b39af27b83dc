"""Argument checks of `tfgen.stylize` and the optimizer that drives the image."""

from __future__ import annotations

import functools

import keras

from tfgen import _checks as checks
from tfgen import optimizers as tfgen_optimizers
from tfgen.optimizers import nesterov

# Optimizer names (tfgen's, and "gradient_descent": Nesterov without momentum) and their learning
# rates for images in [-1, 1] (benchmarks/stylize.py).
OPTIMIZERS = (*tfgen_optimizers.NAMES, "gradient_descent")
_LEARNING_RATES = {"adam": 0.3, "nesterov": 10.0, "gradient_descent": 20.0}
DEFAULT_OPTIMIZER = "adam"
# The learning rates above are for images of this many pixels (64x64); see _named_optimizer.
_REFERENCE_PIXELS = 64 * 64


def _weight(name, value, allow_zero=True):
    return checks.number(value, name, 0, low_open=not allow_zero, kind="a finite number")


def _seed(seed):
    return checks.seed_or_random(seed)


def _optimizer(optimizer, learning_rate, maximize):
    """Check the optimizer arguments; return a function (image pixels) -> what drives the image.

    That is a fresh Keras optimizer (a copy of an instance, which may be built for other
    variables already), or the string "conjugate_gradient".
    """
    if learning_rate is not None:
        if not isinstance(optimizer, str) or optimizer == "conjugate_gradient":
            raise ValueError(
                "learning_rate applies to the optimizer names "
                f"{OPTIMIZERS[:3]}, got optimizer={optimizer!r}"
            )
        _weight("learning_rate", learning_rate, allow_zero=False)
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {OPTIMIZERS} or a Keras optimizer, got {optimizer!r}"
            )
        return functools.partial(_named_optimizer, optimizer, learning_rate, maximize)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            f"optimizer must be one of {OPTIMIZERS} or a keras.optimizers.Optimizer, "
            f"got {optimizer!r}"
        )
    if getattr(optimizer, "maximize", False) and not maximize:
        raise ValueError(
            "optimizer has maximize=True, but this objective is a loss to minimise; "
            "pass an optimizer with maximize=False"
        )
    return lambda pixels: optimizer.__class__.from_config(optimizer.get_config())


def _named_optimizer(name, learning_rate, maximize, pixels):
    """The optimizer `name`, its learning rate given for a 64x64 image.

    The losses are means over positions, so their gradient per pixel shrinks in proportion to
    the number of pixels; gradient descent's and Nesterov's steps grow with it to stay the same
    per pixel (Adam's step does not depend on the gradient's scale).
    """
    if name == "conjugate_gradient":
        return name
    rate = float(learning_rate or _LEARNING_RATES[name])
    if name == "adam":
        return tfgen_optimizers.Adam(rate, maximize=maximize)
    rate *= pixels / _REFERENCE_PIXELS
    momentum = nesterov.DEFAULT_MOMENTUM if name == "nesterov" else 0.0
    return tfgen_optimizers.Nesterov(rate, momentum=momentum, maximize=maximize)
