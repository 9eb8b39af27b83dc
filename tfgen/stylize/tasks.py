"""The three tasks of `tfgen.stylize`: style transfer, texture synthesis, feature visualisation."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import images
from tfgen._checks import positive_int
from tfgen.stylize._images import _image_size, _prepare
from tfgen.stylize._loop import _optimize
from tfgen.stylize._options import DEFAULT_OPTIMIZER, _optimizer, _seed, _weight
from tfgen.stylize.features import _extractor, _input_channels, _layer_names, _network
from tfgen.stylize.losses import content_loss, gram_matrix, style_loss, total_variation_loss

__all__ = ["texture", "transfer", "visualize"]


def _common_checks(steps, num_snapshots, seed):
    steps = positive_int(steps, "steps", checks.MAX_ITERATIONS)
    return steps, positive_int(num_snapshots, "num_snapshots", 1000), _seed(seed)


def transfer(
    content,
    style,
    features="random",
    optimizer=DEFAULT_OPTIMIZER,
    steps=200,
    content_weight=1.0,
    style_weight=1e4,
    tv_weight=1e-2,
    image_size=64,
    learning_rate=None,
    content_layers=None,
    style_layers=None,
    init="content",
    num_snapshots=8,
    seed=None,
):
    """Neural style transfer (Gatys et al. 2016): `content`'s layout painted in `style`'s style.

    Minimises the loss in this module's docstring over the pixels, from the content image
    (`init="content"`) or from noise (`init="noise"`).

    Args:
        content: the content image: a bundled photo's name, a file path or an array (H, W, C)
            (uint8, or floats in [0, 1]); see `tfgen.images.load_image`.
        style: the style image, likewise.
        features: "random", "vgg16:/path/to/weights.h5", "vgg19:/path/to/weights.h5" or a
            built `keras.Model` taking images in [-1, 1] (then give the layer names).
        optimizer: one of `OPTIMIZERS`, or a Keras/tfgen optimizer instance (a copy is used).
            By name, gradient descent and Nesterov (momentum 0.9) take learning rates for a
            64x64 image, scaled by H W / 64**2 (the loss is a mean over positions).
        steps: optimizer steps, or conjugate-gradient iterations (each a line search).
        content_weight, style_weight, tv_weight: weights of the three terms (>= 0; style > 0).
            The defaults balance them for the random features at 64x64: the style term starts
            near 5, a photograph's total variation is ~0.15, and so the content shows through
            the style and fine noise is damped.
        image_size: int or (height, width) of the result (both images are centre-cropped to
            its aspect and resized by `tfgen.images.resize`, antialiased bilinear); None keeps
            the content image's size.
        learning_rate: for an optimizer given by name; None takes its measured default
            (benchmarks/stylize.py).
        content_layers, style_layers: layer names; default the feature network's own.
        init: "content" or "noise".
        num_snapshots: snapshots after the start (evenly spaced steps).
        seed: int seed of the noise start; None draws one.

    Returns:
        A `StylizeResult`.

    Raises:
        ValueError: for images of the wrong rank, channels or range, unknown layer names, a
            missing weights file, non-positive steps or weights, an unknown optimizer; before
            any optimisation.
    """
    steps, num_snapshots, seed = _common_checks(steps, num_snapshots, seed)
    content_weight = _weight("content_weight", content_weight)
    style_weight = _weight("style_weight", style_weight, allow_zero=False)
    tv_weight = _weight("tv_weight", tv_weight)
    if init not in ("content", "noise"):
        raise ValueError(f'init must be "content" or "noise", got {init!r}')
    size = _image_size(image_size)
    optimizer = _optimizer(optimizer, learning_rate, maximize=False)
    network = _network(features)
    content_layers = _layer_names(network, content_layers, "content_layers", network.content_layers)
    style_layers = _layer_names(network, style_layers, "style_layers", network.style_layers)
    channels = _input_channels(network)
    content_image = _prepare(content, "content", size, channels)
    size = size or tuple(content_image.shape[1:3])
    style_image = _prepare(style, "style", size, channels)

    extract = _extractor(network, content_layers + style_layers)
    n_content = len(content_layers)
    content_targets = extract(content_image)[:n_content]
    style_targets = [gram_matrix(f) for f in extract(style_image)[n_content:]]

    def objective(x):
        values = extract(x)
        loss = style_weight * style_loss(values[n_content:], style_targets)
        loss += content_weight * content_loss(values[:n_content], content_targets)
        return loss + tv_weight * total_variation_loss(x)

    start = content_image if init == "content" else _noise(content_image.shape, seed)
    return _optimize(objective, start, optimizer, steps, num_snapshots, maximize=False)


def _noise(shape, seed):
    """Uniform noise in [-0.5, 0.5]: mid-grey with colour variation, far from clipping."""
    return tf.random.stateless_uniform(shape, [seed, 0], -0.5, 0.5)


def texture(
    style,
    size=64,
    features="random",
    optimizer=DEFAULT_OPTIMIZER,
    steps=200,
    tv_weight=0.0,
    learning_rate=None,
    style_layers=None,
    num_snapshots=8,
    seed=None,
):
    """Texture synthesis (Gatys et al. 2015): an image of `size` with `style`'s Gram statistics.

    Minimises the style term (plus `tv_weight` times the total variation) from uniform noise.
    `size` (int or (height, width)) is the result's size; the style image keeps its own size
    unless it is larger than 2 x size, then it is resized to `size`. Other arguments as in
    `transfer`.
    """
    steps, num_snapshots, seed = _common_checks(steps, num_snapshots, seed)
    size = _image_size(size, "size")
    if size is None:
        raise ValueError("size must be an int >= 1 or (height, width), got None")
    tv_weight = _weight("tv_weight", tv_weight)
    optimizer = _optimizer(optimizer, learning_rate, maximize=False)
    network = _network(features)
    style_layers = _layer_names(network, style_layers, "style_layers", network.style_layers)
    channels = _input_channels(network)
    style_array = images.load_image(style) if not isinstance(style, np.ndarray) else style
    too_large = max(np.shape(style_array)[:2]) > 2 * max(size)
    style_image = _prepare(style_array, "style", size if too_large else None, channels)
    extract = _extractor(network, style_layers)
    style_targets = [gram_matrix(f) for f in extract(style_image)]

    def objective(x):
        return style_loss(extract(x), style_targets) + tv_weight * total_variation_loss(x)

    start = _noise((1, *size, channels), seed)
    return _optimize(objective, start, optimizer, steps, num_snapshots, maximize=False)


def visualize(
    model,
    layer,
    unit=None,
    optimizer=DEFAULT_OPTIMIZER,
    steps=100,
    image_size=64,
    jitter=2,
    blur=0.5,
    learning_rate=None,
    image=None,
    num_snapshots=8,
    seed=None,
):
    """Feature visualisation: pixels that maximise the mean activation of `layer` (or `unit`).

    Gradient ascent (a named optimizer is built with `maximize=True`; a Keras optimizer without
    `maximize` ascends on the negated gradient) on

        a(x) = mean_{positions} F_layer(jitter(x))[..., unit]    (mean over all units if None)

    where jitter rolls the image by a random offset of up to `jitter` pixels each step
    (Mordvintsev et al. 2015) and a Gaussian blur of width `blur` follows every step (Yosinski
    et al. 2015). Starting from `image` makes it DeepDream; from noise, a visualisation.

    Args:
        model: a built `keras.Model` taking images in [-1, 1], or "random", "vgg16:/path",
            "vgg19:/path" as `transfer`'s features.
        layer: the layer's name.
        unit: index into the layer's last axis (a channel or a logit), or None for all.
        optimizer: as in `transfer`; "conjugate_gradient" needs jitter=0.
        steps: ascent steps.
        image_size: int or (height, width) when the model accepts any size; a model with a
            fixed input size uses that.
        jitter: largest random shift in pixels (int >= 0).
        blur: Gaussian blur sigma in pixels after each step (>= 0; 0 disables it), by
            `tfgen.images.gaussian_blur` (truncated at 4 sigma).
        image: optional start image (as `transfer`'s content); default uniform noise.
        num_snapshots, seed: as in `transfer`; the seed also drives the jitter.

    Returns:
        A `StylizeResult` whose `losses` are the activations (rising).
    """
    steps, num_snapshots, seed = _common_checks(steps, num_snapshots, seed)
    checks.non_negative_int(jitter, "jitter")
    blur = _weight("blur", blur)
    if optimizer == "conjugate_gradient" and jitter:
        raise ValueError(
            "optimizer='conjugate_gradient' needs a deterministic objective: pass jitter=0"
        )
    optimizer = _optimizer(optimizer, learning_rate, maximize=True)
    network = _network(model)
    if not isinstance(layer, str):
        raise ValueError(f"layer must be a layer name (str), got {layer!r}")
    (layer,) = _layer_names(network, layer, "layer", None)
    extract = _extractor(network, (layer,))
    output_shape = network.model.get_layer(layer).output.shape
    if unit is not None:
        units = output_shape[-1]
        checks.integer(unit, "unit", optional=True)
        if units is not None and not 0 <= unit < units:
            raise ValueError(f"unit must be in [0, {units}) for layer {layer!r}, got {unit!r}")

    input_shape = network.model.inputs[0].shape
    channels = _input_channels(network)
    if input_shape[1] is not None and input_shape[2] is not None:
        size = (int(input_shape[1]), int(input_shape[2]))
    else:
        size = _image_size(image_size)
    if image is None:
        start = _noise((1, *size, channels), seed) * 0.2
    else:
        start = _prepare(image, "image", size, channels)

    def objective(x):
        activation = extract(x)[0]
        if unit is not None:
            activation = activation[..., unit]
        return tf.reduce_mean(activation)

    shift = None
    if jitter:

        def shift(x, step):
            offset = tf.random.stateless_uniform(
                [2], [seed, 1 + tf.cast(step, tf.int32)], -jitter, jitter + 1, tf.int32
            )
            return tf.roll(x, offset, axis=[1, 2])

    project = functools.partial(images.gaussian_blur, sigma=blur) if blur else None
    return _optimize(objective, start, optimizer, steps, num_snapshots, True, shift, project)
