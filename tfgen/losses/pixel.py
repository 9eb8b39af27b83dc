"""Image quality of [-1, 1] images, per example, shape (batch,)."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["psnr", "ssim"]

# SSIM's Gaussian window (Wang et al. 2004): 11 x 11, sigma 1.5; narrowed for smaller images.
_SSIM_FILTER_SIZE = 11
_SSIM_FILTER_SIGMA = 1.5


def _to_unit(images) -> tf.Tensor:
    """[-1, 1] -> [0, 1], the range `tf.image.psnr`/`ssim` are given with max_val=1."""
    return (tf.cast(images, tf.float32) + 1.0) / 2.0


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
