"""Colour augmentation for restoration: each training image with its channels in a random order.

A restoration network learns from the colours its training photographs hold. The seven training
photographs of "photos" hold few saturated blues or deep reds, and a JPEG artefact remover
trained on them shifts the mean colour of such held-out crops by several 8-bit levels, which
costs up to 3 dB on a smooth crop (BENCHMARKS.md, "Image restoration on held-out
photographs"). Showing each training image with its RGB channels in one of the 3! = 6 orders,
drawn uniformly per image, gives every hue the photographs' structure; the image stays a valid
photograph of another colour, and a corruption applied after it (JPEG's colour conversion and
chroma subsampling) acts on it as on any image. The JPEG recipe permutes half the images
(`probability=0.5`): permuting all of them also cures the colour shifts but slows the learning
of the natural colours the test photographs mostly hold.
"""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

from tfgen import _checks as checks

#: The channel orders `permute_channels` draws from, for RGB (3) and grey (1) images.
ORDERS = {
    3: tuple(itertools.permutations(range(3))),
    1: ((0,),),
}


def permute_channels(images, seed, probability=1.0) -> tf.Tensor:
    """`images` (batch, H, W, C) with each image's channels in a random order.

    With `probability` an image draws one of the C! orders of `ORDERS[C]` uniformly (the
    identity among them), otherwise it keeps its own; every draw comes from the stateless
    `seed` (a [2] int tensor): reproducible, and different for another seed. Grey images pass
    unchanged.

    Raises:
        ValueError: images that are not (batch, H, W, C) with C in `ORDERS`, a probability
            outside [0, 1].
    """
    probability = checks.number(probability, "probability", 0, 1)
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] not in ORDERS:
        raise ValueError(
            f"images must be (batch, height, width, channels) with channels in "
            f"{tuple(ORDERS)}, got shape {tuple(images.shape)}"
        )
    orders = tf.constant(np.array(ORDERS[images.shape[-1]], np.int32))
    count = tf.shape(images)[0]
    picks = tf.random.stateless_uniform([count], seed, maxval=len(orders), dtype=tf.int32)
    chosen = tf.random.stateless_uniform([count], tf.random.experimental.stateless_fold_in(seed, 1))
    picks = tf.where(chosen < probability, picks, 0)  # order 0 is the identity
    return tf.gather(images, tf.gather(orders, picks), axis=3, batch_dims=1)


def with_permuted_channels(
    dataset: tf.data.Dataset, seed: int = 0, probability=1.0
) -> tf.data.Dataset:
    """`dataset` (batches of images, or `(images, ...)` tuples) with `permute_channels`
    applied to every batch's images with `probability`; new orders at every pass,
    reproducible for a `seed`."""
    seed = checks.seed(seed, optional=False)
    probability = checks.number(probability, "probability", 0, 1)
    counters = tf.data.Dataset.random(seed=int(seed), rerandomize_each_iteration=True)

    def permute(element, counter):
        batch_seed = tf.stack([counter, tf.constant(0, tf.int64)])
        if isinstance(element, tuple):
            return (permute_channels(element[0], batch_seed, probability), *element[1:])
        return permute_channels(element, batch_seed, probability)

    return tf.data.Dataset.zip(dataset, counters).map(permute, num_parallel_calls=tf.data.AUTOTUNE)
