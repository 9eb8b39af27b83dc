"""`FeatureExtractor`: a network with its preprocessing, and the checks of images and features."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import images as images_convention

__all__ = [
    "RANGE_TOLERANCE",
    "FeatureExtractor",
    "as_feature_extractor",
    "check_features",
    "check_images",
]

#: Images may exceed [-1, 1] by this much (round-off of a tanh output or a resize).
RANGE_TOLERANCE = images_convention.RANGE_TOLERANCE


class FeatureExtractor:
    """A network that maps images in [-1, 1] to feature vectors, with its preprocessing.

    Calling it with images (batch, height, width, channels) in [-1, 1]:
    1. checks them (rank 4, finite, within [-1, 1]; eagerly, with a `ValueError`);
    2. converts the channels to `channels` (grey -> RGB by repetition, RGB -> grey by luma);
    3. resizes to `image_size` (antialiased bilinear) unless it is None;
    4. maps [-1, 1] linearly to `input_range`;
    5. runs `network` in chunks of `batch_size` images and flattens its output to
       (batch, feature_dim) float32.

    Args:
        network: A Keras model or any callable on a float32 image tensor.
        image_size: (height, width) or an int the network needs; None passes any size.
        channels: 1 or 3 the network needs; None passes the images' own.
        input_range: (low, high) the network expects the pixel range to be.
        name: Identifies the extractor in saved reference statistics, so that statistics of
            one network are never compared with features of another.
        feature_dim: Length of the feature vectors when known in advance.
        batch_size: Images per network call.
    """

    def __init__(
        self,
        network,
        image_size=None,
        channels=None,
        input_range=(-1.0, 1.0),
        name=None,
        feature_dim=None,
        batch_size=256,
    ):
        if not callable(network):
            raise ValueError(f"network must be a Keras model or a callable, got {network!r}")
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        if image_size is not None and (len(image_size) != 2 or any(int(s) < 1 for s in image_size)):
            raise ValueError(
                f"image_size must be None, an int or (height, width), got {image_size}"
            )
        if channels not in (None, 1, 3):
            raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
        low, high = (float(v) for v in input_range)
        if not low < high:
            raise ValueError(f"input_range must be (low, high) with low < high, got {input_range}")
        checks.positive_int(batch_size, "batch_size")
        self.network = network
        self.image_size = None if image_size is None else tuple(int(s) for s in image_size)
        self.channels = channels
        self.input_range = (low, high)
        self.name = name or getattr(network, "name", None) or type(network).__name__
        self.feature_dim = feature_dim
        self.batch_size = batch_size
        # A Keras model runs eager batches through a traced graph (called eagerly batch after
        # batch it is several times slower); other callables may not be traceable.
        self._traceable = isinstance(network, keras.Model)
        self._traced = {}

    def preprocess(self, images):
        """Channels, size and value range as the network expects them (a float32 tensor)."""
        images = tf.convert_to_tensor(images, tf.float32)
        if self.channels == 3 and images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        elif self.channels == 1 and images.shape[-1] == 3:
            images = images_convention.luminance(images)
        if self.image_size is not None:
            images = images_convention.resize(images, self.image_size)
        low, high = self.input_range
        if (low, high) != (-1.0, 1.0):
            images = (images + 1.0) * ((high - low) / 2.0) + low
        return images

    def __call__(self, images):
        images = check_images(images)
        if not tf.executing_eagerly():
            return self._features(images)
        n = int(images.shape[0])
        features = self._traced_for(images.shape[1:])
        if n == 0:
            # TensorFlow's CPU convolution returns an empty batch unchanged (its input's shape,
            # not its output's), so the network sees one blank image and its features are cut.
            return features(tf.zeros([1, *images.shape[1:]]))[:0]
        chunks = [
            features(images[start : start + self.batch_size])
            for start in range(0, n, self.batch_size)
        ]
        return tf.concat(chunks, axis=0)

    def _traced_for(self, image_shape):
        """`_features` traced once per image shape with a free batch size.

        One graph per (height, width, channels) rather than one retracing function: a relaxed
        trace would forget the sizes and channels `preprocess` decides on.
        """
        if not self._traceable:
            return self._features
        key = tuple(int(d) for d in image_shape)
        if key not in self._traced:
            signature = [tf.TensorSpec([None, *key], tf.float32)]
            self._traced[key] = tf.function(self._features, input_signature=signature)
        return self._traced[key]

    def _features(self, images):
        outputs = self.network(self.preprocess(images))
        if isinstance(outputs, dict):
            outputs = next(iter(outputs.values()))
        outputs = tf.cast(tf.convert_to_tensor(outputs), tf.float32)
        return tf.reshape(outputs, [tf.shape(outputs)[0], -1])

    def __repr__(self):
        return (
            f"FeatureExtractor(name={self.name!r}, image_size={self.image_size}, "
            f"channels={self.channels}, input_range={self.input_range}, "
            f"feature_dim={self.feature_dim})"
        )


class _Identity:
    """The inputs are features already: (batch, feature_dim), checked and passed through."""

    name = "identity"
    feature_dim = None

    def __call__(self, features):
        return check_features(features, "features")

    def __repr__(self):
        return "identity"


def as_feature_extractor(extractor):
    """None -> the identity; a `FeatureExtractor` as it is; a Keras model or callable wrapped.

    A Keras model with a static input shape (height, width, channels) gets that size and
    channel count; its output length is its feature dimension.
    """
    if extractor is None:
        return _Identity()
    if isinstance(extractor, FeatureExtractor | _Identity):
        return extractor
    if isinstance(extractor, keras.Model):
        image_size = channels = feature_dim = None
        try:
            shape = tuple(extractor.inputs[0].shape[1:])
            outputs = tuple(extractor.outputs[0].shape[1:])
        except (AttributeError, IndexError, TypeError, ValueError):
            shape = outputs = ()
        if len(shape) == 3 and None not in shape:
            image_size, channels = shape[:2], shape[2] if shape[2] in (1, 3) else None
        if outputs and None not in outputs:
            feature_dim = int(np.prod(outputs))
        return FeatureExtractor(
            extractor, image_size, channels, name=extractor.name, feature_dim=feature_dim
        )
    if callable(extractor):
        return FeatureExtractor(extractor)
    raise ValueError(
        "feature_extractor must be None (identity), a FeatureExtractor, a Keras model or a "
        f"callable, got {extractor!r}"
    )


def check_images(images, name="images"):
    """A float32 tensor of images (batch, H, W, C) in [-1, 1]; else a ValueError (eagerly)."""
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4:
        raise ValueError(
            f"{name} must be a batch of images (batch, height, width, channels), got shape "
            f"{tuple(images.shape)}"
        )
    if tf.executing_eagerly() and images.shape[0]:
        images_convention.check_range(images.numpy(), name, meaning="tfgen's model range")
    return images


def check_features(features, name="features"):
    """A float32 tensor (batch, feature_dim) with finite entries; else a ValueError (eagerly)."""
    features = tf.convert_to_tensor(features, tf.float32)
    if features.shape.rank != 2:
        raise ValueError(
            f"{name} must be a matrix (batch, feature_dim), got shape {tuple(features.shape)}"
        )
    if tf.executing_eagerly() and not np.all(np.isfinite(features.numpy())):
        raise ValueError(f"{name} hold NaN or infinite values")
    return features
