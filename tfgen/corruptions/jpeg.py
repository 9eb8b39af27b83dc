"""`JPEG` compression artefacts (libjpeg, run in the input pipeline under XLA)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.corruptions._base import (
    JPEG_CHANNELS,
    Corruption,
    _number_or_range,
    _per_example_values,
    _range_config,
)


@keras.saving.register_keras_serializable(package="tfgen")
class JPEG(Corruption):
    """JPEG compression artefacts: each image is JPEG-encoded at `quality` and decoded.

    Images in [-1, 1] are mapped to [0, 1], rounded to 8 bits, encoded and decoded by
    TensorFlow's libjpeg (`tf.image.adjust_jpeg_quality`, one image at a time) and mapped back.
    With a range, each example draws an integer quality uniformly from [low, high]. Grey or RGB
    images only; the op runs on the CPU and XLA cannot compile it (`xla_compilable` is False),
    so models apply it in their input pipeline.

    Args:
        quality: JPEG quality, an int in [1, 100] or a pair (low, high) of them.
    """

    def __init__(self, quality):
        bounds = quality if isinstance(quality, list | tuple) else (quality,)
        if not all(checks.is_int(q) for q in bounds):
            raise ValueError(
                f"quality must be an int in [1, 100] or a pair (low, high) of them, got {quality!r}"
            )
        low, high = _number_or_range(quality, "quality", 1, 100)
        self.quality = (int(low), int(high))

    xla_compilable = False

    def call(self, images, seed):
        channels = images.shape[-1]
        if channels not in JPEG_CHANNELS:
            raise ValueError(
                f"JPEG needs images with channels in {JPEG_CHANNELS}, got images of shape "
                f"{tuple(images.shape)}"
            )
        low, high = self.quality
        # Integer qualities uniform in [low, high]: floor of a uniform draw on [low, high + 1).
        draws = _per_example_values((float(low), float(high) + 1.0), images, seed)
        qualities = tf.cast(tf.clip_by_value(tf.floor(draws), low, high), tf.int32)
        pixels = tf.cast(
            tf.round(tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)),
            tf.uint8,
        )

        def compress(args):
            image, q = args
            return tf.image.adjust_jpeg_quality(image, q)

        decoded = tf.map_fn(
            compress,
            (pixels, qualities),
            fn_output_signature=tf.TensorSpec(pixels.shape[1:], tf.uint8),
        )
        return tf.cast(tf.cast(decoded, tf.float32) / 127.5 - 1.0, images.dtype)

    def get_config(self):
        return {"quality": _range_config(self.quality)}
