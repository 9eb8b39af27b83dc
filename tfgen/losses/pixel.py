"""Pixel losses and image quality of [-1, 1] images, per example, shape (batch,).

The reconstruction losses of `tfgen.models.Autoencoder` and `tfgen.perceptual.PerceptualLoss`
("l1", "l2", "ssim", or a dict of weights over them) and the measures PSNR and SSIM.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfgen import _checks as checks
from tfgen import images as tfgen_images

__all__ = [
    "RECONSTRUCTION_LOSSES",
    "check_reconstruction_loss",
    "dssim",
    "l1",
    "l2",
    "mean_per_example",
    "psnr",
    "reconstruction_loss",
    "ssim",
]

#: Names accepted by `reconstruction_loss`, alone or as keys of a dict of weights.
RECONSTRUCTION_LOSSES = ("l1", "l2", "ssim")

# SSIM's Gaussian window (Wang et al. 2004): 11 x 11, sigma 1.5; narrowed for smaller images.
_SSIM_FILTER_SIZE = 11
_SSIM_FILTER_SIGMA = 1.5


def _to_unit(images) -> tf.Tensor:
    """[-1, 1] -> [0, 1], the range `tf.image.psnr`/`ssim` are given with max_val=1."""
    return tfgen_images.to_unit_range(tf.convert_to_tensor(images), clip=False)


def ssim(y_true, y_pred) -> tf.Tensor:
    """Per-image SSIM (Wang et al. 2004) of [-1, 1] images, computed on [0, 1] with max_val=1.

    `tf.image.ssim` with an 11 x 11 Gaussian window (sigma 1.5), the window shrunk to the image
    side for images smaller than 11 pixels; averaged over channels. Shape (batch,).
    """
    a, b = _to_unit(y_true), _to_unit(y_pred)
    side = min(int(a.shape[1]), int(a.shape[2]), _SSIM_FILTER_SIZE)
    return tf.image.ssim(a, b, max_val=1.0, filter_size=side, filter_sigma=_SSIM_FILTER_SIGMA)


def psnr(y_true, y_pred) -> tf.Tensor:
    """Per-image PSNR in dB of [-1, 1] images on [0, 1]: ``10 log10(1 / MSE)``. Shape (batch,)."""
    return tf.image.psnr(_to_unit(y_true), _to_unit(y_pred), max_val=1.0)


def mean_per_example(values) -> tf.Tensor:
    """The mean over every axis after the batch axis: (batch, ...) -> (batch,)."""
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def l1(y_true, y_pred) -> tf.Tensor:
    """Mean absolute error over pixels and channels, ``mean |x - y|``. Shape (batch,)."""
    return mean_per_example(tf.abs(tf.cast(y_true, tf.float32) - tf.cast(y_pred, tf.float32)))


def l2(y_true, y_pred) -> tf.Tensor:
    """Mean squared error over pixels and channels, ``mean (x - y)^2``. Shape (batch,)."""
    return mean_per_example(tf.square(tf.cast(y_true, tf.float32) - tf.cast(y_pred, tf.float32)))


def dssim(y_true, y_pred) -> tf.Tensor:
    """The SSIM loss ``1 - SSIM(x, y)`` (see `ssim`). Shape (batch,)."""
    return 1.0 - ssim(y_true, y_pred)


_LOSS_FUNCTIONS = {"l1": l1, "l2": l2, "ssim": dssim}


def _loss_error(loss, name):
    return ValueError(
        f"{name} must be one of {RECONSTRUCTION_LOSSES}, a dict of non-negative weights over them "
        f'(e.g. {{"l1": 1.0, "ssim": 0.2}}) or a callable (y_true, y_pred) -> per-example '
        f"losses, got {loss!r}"
    )


def check_reconstruction_loss(loss, name="loss"):
    """Validates `loss` (argument `name`); returns it as given (str, dict of floats or callable).

    Raises:
        ValueError: naming `name`, for anything but a name in `RECONSTRUCTION_LOSSES`, a
            non-empty dict of finite weights >= 0 over those names, or a callable.
    """
    if isinstance(loss, str):
        if loss not in RECONSTRUCTION_LOSSES:
            raise _loss_error(loss, name)
        return loss
    if isinstance(loss, dict):
        if not loss:
            raise _loss_error(loss, name)
        weights = {}
        for key, weight in loss.items():
            if key not in RECONSTRUCTION_LOSSES:
                raise _loss_error(loss, name)
            if not checks.is_number(weight) or not math.isfinite(weight) or weight < 0:
                raise _loss_error(loss, name)
            weights[key] = float(weight)
        return weights
    if callable(loss):
        return loss
    raise _loss_error(loss, name)


def reconstruction_loss(loss):
    """The per-example loss function ``f(y_true, y_pred) -> (batch,)`` for `loss`.

    * "l1": mean absolute error over pixels and channels, ``mean |x - y|`` (`l1`);
    * "l2": mean squared error, ``mean (x - y)^2`` (`l2`);
    * "ssim": ``1 - SSIM(x, y)`` (Wang et al. 2004; see `ssim`);
    * a dict ``{name: weight}``: the weighted sum of those;
    * a callable ``(y_true, y_pred) -> losses``: its values, averaged over any axes after the
      batch axis.

    All on images in [-1, 1] (SSIM on the same images mapped to [0, 1]).

    Raises:
        ValueError: for any other `loss`.
    """
    loss = check_reconstruction_loss(loss)
    if isinstance(loss, str):
        return _LOSS_FUNCTIONS[loss]
    if isinstance(loss, dict):

        def weighted(y_true, y_pred):
            terms = [w * _LOSS_FUNCTIONS[name](y_true, y_pred) for name, w in loss.items()]
            return tf.add_n(terms)

        return weighted

    def custom(y_true, y_pred):
        values = tf.cast(tf.convert_to_tensor(loss(y_true, y_pred)), tf.float32)
        if values.shape.rank == 0:
            raise ValueError(
                "a callable loss must return one value per example, shape (batch, ...), "
                "got a scalar"
            )
        return values if values.shape.rank == 1 else mean_per_example(values)

    return custom
