"""Feature networks of `tfgen.stylize`: random multi-scale filters, VGG, any built model."""

from __future__ import annotations

import dataclasses
import functools
import math

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import pretrained

__all__ = [
    "RANDOM_CONTENT_LAYERS",
    "RANDOM_FILTERS",
    "RANDOM_KERNEL_SIZES",
    "RANDOM_STYLE_LAYERS",
    "VGG_CONTENT_LAYERS",
    "VGG_STYLE_LAYERS",
    "random_features",
]

# Gatys et al. (2016), section 3: content on conv4_2, style on conv1_1 ... conv5_1.
VGG_CONTENT_LAYERS = ("block4_conv2",)
VGG_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Ustyuzhaninov et al. (2017) use sizes 3 ... 55 with 128 filters each; the sizes above 15 cost
# most of the time on a CPU and matter only for images much larger than 64 pixels.
RANDOM_KERNEL_SIZES = (3, 5, 7, 11, 15)
RANDOM_FILTERS = 128
RANDOM_STYLE_LAYERS = tuple(f"random_{k}x{k}" for k in RANDOM_KERNEL_SIZES)
# The coarsest scale keeps the layout of the content image and leaves its fine texture free.
RANDOM_CONTENT_LAYERS = (RANDOM_STYLE_LAYERS[-1],)


def random_features(seed=0, filters=RANDOM_FILTERS, kernel_sizes=RANDOM_KERNEL_SIZES, channels=3):
    """A fixed multi-scale network of random filters (Ustyuzhaninov et al. 2017).

    One convolution per kernel size k, named "random_{k}x{k}", each with `filters` filters of
    weights ~ N(0, 1 / (k * k * channels)) (He et al.'s scale), no bias, "same" padding and ReLU,
    all reading the image in [-1, 1] directly. The weights come from numpy's
    `default_rng(seed)`, so a seed gives the same network on every machine and Keras version.

    Returns:
        A `keras.Model` (images (B, H, W, channels) -> list of one feature map per scale).
    """
    for name, value in (("seed", seed), ("filters", filters), ("channels", channels)):
        checks.non_negative_int(value, name)
    if filters == 0 or channels == 0:
        raise ValueError(f"filters and channels must be positive, got {filters}, {channels}")
    sizes = tuple(kernel_sizes)
    if not sizes or any(not checks.is_int(k) or k < 1 for k in sizes):
        raise ValueError(f"kernel_sizes must be positive ints, got {kernel_sizes!r}")
    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, channels))
    outputs = []
    for k in sizes:
        layer = keras.layers.Conv2D(
            filters, k, padding="same", activation="relu", use_bias=False, name=f"random_{k}x{k}"
        )
        outputs.append(layer(inputs))
        kernel = rng.standard_normal((k, k, channels, filters)) / math.sqrt(k * k * channels)
        layer.set_weights([kernel.astype(np.float32)])
    model = keras.Model(inputs, outputs, name="random_features")
    model.trainable = False
    return model


@dataclasses.dataclass(frozen=True)
class _Network:
    model: keras.Model
    preprocess: object  # images in [-1, 1] -> the model's input
    content_layers: tuple | None
    style_layers: tuple | None


def _identity(images):
    return images


def _network(features):
    """Resolve `features` into a model, its preprocessing and its default layers."""
    if isinstance(features, keras.Model):
        return _Network(features, _identity, None, None)
    if isinstance(features, str) and features == "random":
        return _Network(random_features(), _identity, RANDOM_CONTENT_LAYERS, RANDOM_STYLE_LAYERS)
    if isinstance(features, str) and features.split(":", 1)[0] in ("vgg16", "vgg19"):
        name, _, path = features.partition(":")
        if not path:
            raise ValueError(
                f"features {features!r} needs the weights file: '{name}:/path/to/"
                f"{pretrained.weights_file(name).file_name}'"
            )
        model = pretrained.keras_application(name, path)
        preprocess = functools.partial(pretrained.preprocess_input, name)
        return _Network(model, preprocess, VGG_CONTENT_LAYERS, VGG_STYLE_LAYERS)
    raise ValueError(
        'features must be "random", "vgg16:/path/to/weights.h5", "vgg19:/path/to/weights.h5" '
        f"or a built keras.Model, got {features!r}"
    )


def _layer_names(network, layers, argument, default):
    if layers is None:
        layers = default
        if layers is None:
            raise ValueError(f"{argument} must be given (layer names) for a keras.Model features")
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    known = [layer.name for layer in network.model.layers]
    for name in layers:
        if name not in known:
            raise ValueError(f"{argument} has unknown layer {name!r}; the network has {known}")
    if not layers:
        raise ValueError(f"{argument} must name at least one layer, got {layers!r}")
    return layers


def _extractor(network, layers):
    """A function images in [-1, 1] -> list of the named layers' outputs (float32)."""
    model = network.model
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(f"features model {model.name!r} must be built with a known input")
    outputs = [model.get_layer(name).output for name in layers]
    extractor = keras.Model(inputs, outputs)

    def extract(images):
        values = extractor(network.preprocess(images), training=False)
        values = values if isinstance(values, list | tuple) else [values]
        return [tf.cast(value, tf.float32) for value in values]

    return extract


def _input_channels(network):
    shape = network.model.inputs[0].shape
    return int(shape[-1]) if shape[-1] is not None else 3
