"""The losses of style transfer and texture synthesis (tensors in, scalar tensors out)."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["content_loss", "gram_matrix", "style_loss", "total_variation_loss"]


def gram_matrix(features):
    """G[b, c, d] = sum_{i, j} F[b, i, j, c] F[b, i, j, d] / (H W) for features (B, H, W, C)."""
    features = tf.convert_to_tensor(features, tf.float32)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return tf.einsum("bijc,bijd->bcd", features, features) / positions


def style_loss(features, target_grams):
    """Gatys' style loss: mean over layers of sum((G_l - A_l)**2) / (4 N_l**2), summed over batch.

    Args:
        features: list of (B, H_l, W_l, N_l) feature maps.
        target_grams: list of (1 or B, N_l, N_l) Gram matrices of the style image.
    """
    terms = []
    for feature, target in zip(features, target_grams, strict=True):
        channels = tf.cast(tf.shape(feature)[-1], tf.float32)
        difference = gram_matrix(feature) - target
        terms.append(tf.reduce_sum(tf.square(difference)) / (4.0 * channels**2))
    return tf.add_n(terms) / len(terms)


def content_loss(features, target_features):
    """Sum over layers of 1/2 mean((F_l - P_l)**2) (Gatys' 1/2 sum, as a mean over entries)."""
    terms = [
        0.5 * tf.reduce_mean(tf.square(feature - target))
        for feature, target in zip(features, target_features, strict=True)
    ]
    return tf.add_n(terms)


def total_variation_loss(images):
    """Mean squared difference of vertically and of horizontally adjacent pixels, summed."""
    images = tf.convert_to_tensor(images, tf.float32)
    vertical = tf.reduce_mean(tf.square(images[:, 1:] - images[:, :-1]))
    horizontal = tf.reduce_mean(tf.square(images[:, :, 1:] - images[:, :, :-1]))
    return vertical + horizontal
