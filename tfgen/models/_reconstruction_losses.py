"""Per-example reconstruction losses of the autoencoders (`tfgen.models.autoencoder`)."""

from __future__ import annotations

import math
import numbers

import tensorflow as tf

from tfgen.losses import ssim

#: Names accepted by `loss`, alone or as keys of a dict of weights.
RECONSTRUCTION_LOSSES = ("l1", "l2", "ssim")


# ---------------------------------------------------------------------------------------------
# Per-example losses and metrics on images in [-1, 1].


def _mean_over_pixels(values):
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def _l1(y_true, y_pred):
    return _mean_over_pixels(tf.abs(tf.cast(y_true, tf.float32) - tf.cast(y_pred, tf.float32)))


def _l2(y_true, y_pred):
    return _mean_over_pixels(tf.square(tf.cast(y_true, tf.float32) - tf.cast(y_pred, tf.float32)))


def _dssim(y_true, y_pred):
    return 1.0 - ssim(y_true, y_pred)


_LOSS_FUNCTIONS = {"l1": _l1, "l2": _l2, "ssim": _dssim}


def _loss_error(loss):
    return ValueError(
        f"loss must be one of {RECONSTRUCTION_LOSSES}, a dict of non-negative weights over them "
        f'(e.g. {{"l1": 1.0, "ssim": 0.2}}) or a callable (y_true, y_pred) -> per-example '
        f"losses, got {loss!r}"
    )


def _check_loss(loss):
    """Validates `loss`; returns it as given (str, dict of floats or callable)."""
    if isinstance(loss, str):
        if loss not in RECONSTRUCTION_LOSSES:
            raise _loss_error(loss)
        return loss
    if isinstance(loss, dict):
        if not loss:
            raise _loss_error(loss)
        weights = {}
        for name, weight in loss.items():
            if name not in RECONSTRUCTION_LOSSES:
                raise _loss_error(loss)
            ok = isinstance(weight, numbers.Real) and not isinstance(weight, bool)
            if not ok or not math.isfinite(weight) or weight < 0:
                raise _loss_error(loss)
            weights[name] = float(weight)
        return weights
    if callable(loss):
        return loss
    raise _loss_error(loss)


def reconstruction_loss(loss):
    """The per-example loss function ``f(y_true, y_pred) -> (batch,)`` for `loss`.

    * "l1": mean absolute error over pixels and channels, ``mean |x - y|``;
    * "l2": mean squared error, ``mean (x - y)^2``;
    * "ssim": ``1 - SSIM(x, y)`` (Wang et al. 2004; see `ssim`);
    * a dict ``{name: weight}``: the weighted sum of those;
    * a callable ``(y_true, y_pred) -> losses``: its values, averaged over any axes after the
      batch axis.

    All on images in [-1, 1] (SSIM on the same images mapped to [0, 1]).

    Raises:
        ValueError: for any other `loss`.
    """
    loss = _check_loss(loss)
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
        return values if values.shape.rank == 1 else _mean_over_pixels(values)

    return custom
