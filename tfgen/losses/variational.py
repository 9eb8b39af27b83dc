"""The VAE's KL term, per example, shape (batch,)."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["kl_divergence"]


def kl_divergence(z_mean, z_log_var) -> tf.Tensor:
    """KL(N(mu, diag(exp(lv))) || N(0, I)) per example (Kingma & Welling 2014, appendix B).

    ``0.5 * sum(mu^2 + exp(lv) - lv - 1)`` over all code axes. Shape (batch,).
    """
    mu, log_var = tf.cast(z_mean, tf.float32), tf.cast(z_log_var, tf.float32)
    terms = tf.square(mu) + tf.exp(log_var) - log_var - 1.0
    return 0.5 * tf.reduce_sum(tf.reshape(terms, [tf.shape(terms)[0], -1]), axis=1)
