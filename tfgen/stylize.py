"""Artistic images by optimising pixels: style transfer, texture synthesis, feature visualisation.

Each function optimises the pixels of one image `x` (a `tf.Variable` in [-1, 1], put back into
that range after every step) over the features F_l(x) of a fixed convolutional network:

* `transfer` (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural
  Networks") minimises, for a content image c and a style image s,

      L(x) = content_weight * sum_{l in content} 1/2 mean((F_l(x) - F_l(c))**2)
           + style_weight   * sum_{l in style} 1/|style| * sum((G_l(x) - G_l(s))**2) / (4 N_l**2)
           + tv_weight      * (mean((x[i+1, j] - x[i, j])**2) + mean((x[i, j+1] - x[i, j])**2))

  with the Gram matrix G_l = F_l^T F_l / M_l of the N_l feature maps over the M_l positions
  (Gatys' E_l with the 1/M_l**2 moved into G, so that the loss does not depend on image size),
  and the squared total variation of Mahendran & Vedaldi (2015) as regulariser.
* `texture` (Gatys, Ecker & Bethge 2015, "Texture Synthesis Using Convolutional Neural
  Networks") minimises the style term alone, from noise.
* `visualize` (Erhan et al. 2009; Mordvintsev, Olah & Tyka 2015, "Inceptionism"; Yosinski et
  al. 2015) maximises the mean activation of a layer or of one of its units by gradient ascent,
  regularised by random jitter of the input and a Gaussian blur after every step.

Feature networks (nothing is downloaded):

* "random" (the default): one layer of random filters at several scales (3x3 ... 15x15) with
  ReLU, seeded and reproducible, which synthesises convincing textures (Ustyuzhaninov, Brendel,
  Gatys & Bethge 2017, "What does it take to generate natural textures?"); see `random_features`.
* "vgg16:/path/weights_notop.h5", "vgg19:/path/...": Keras' VGG with ImageNet weights from a
  local file (checked by `tfgen.pretrained`), Gatys' layers (content block4_conv2, style
  block1_conv1 ... block5_conv1) and VGG's preprocessing.
* any built `keras.Model` that takes images in [-1, 1], with the layer names to use.

Optimizers: a tfgen or Keras optimizer instance (a fresh copy of it drives the image in a
compiled loop), one of the names in `OPTIMIZERS`, or "conjugate_gradient" for
`tfgen.solvers.minimize` (Polak-Ribiere+ with a strong-Wolfe line search, the counterpart of the
L-BFGS Gatys used). Defaults are the best of the sweep in benchmarks/stylize.py.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import optimizers as tfgen_optimizers
from tfgen import pretrained, solvers
from tfgen._checks import positive_int

__all__ = [
    "OPTIMIZERS",
    "RANDOM_CONTENT_LAYERS",
    "RANDOM_KERNEL_SIZES",
    "RANDOM_STYLE_LAYERS",
    "VGG_CONTENT_LAYERS",
    "VGG_STYLE_LAYERS",
    "StylizeResult",
    "content_loss",
    "gram_matrix",
    "load_image",
    "random_features",
    "save_result",
    "style_loss",
    "texture",
    "total_variation_loss",
    "transfer",
    "visualize",
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

# Optimizer names and their learning rates for images in [-1, 1] (benchmarks/stylize.py).
OPTIMIZERS = ("adam", "nesterov", "gradient_descent", "conjugate_gradient")
_LEARNING_RATES = {"adam": 0.3, "nesterov": 10.0, "gradient_descent": 20.0}
DEFAULT_OPTIMIZER = "adam"
# The learning rates above are for images of this many pixels (64x64); see _named_optimizer.
_REFERENCE_PIXELS = 64 * 64
#: Largest result (height x width): the optimisation holds the image, its gradient, optimizer
#: slots and every feature map of 128 filters per layer, a few hundred floats per pixel.
MAX_PIXELS = 2048 * 2048
# Conjugate gradient's line search takes at most this many evaluations (tfgen.solvers default),
# plus one refining evaluation.
_LINE_SEARCH_EVALUATIONS = 26


@dataclasses.dataclass(frozen=True)
class StylizeResult:
    """Outcome of `transfer`, `texture` or `visualize`.

    Attributes:
        image: (H, W, C) float32 in [0, 1], the optimised image.
        losses: (evaluations,) float64, the objective at every evaluation in order: for an
            optimizer one per step (before its update), for conjugate gradient also the line
            search's trials; the last entry is the returned image's. For `visualize` it is the
            activation being maximised.
        evaluations: function-and-gradient evaluations made (the last, of the returned image,
            without gradient), = len(losses).
        snapshots: (n, H, W, C) float32 in [0, 1], the image at the start and after evenly
            spaced steps, the last being `image`.
        snapshot_evaluations: (n,) int, the evaluations made when each snapshot was taken.
    """

    image: np.ndarray
    losses: np.ndarray
    evaluations: int
    snapshots: np.ndarray
    snapshot_evaluations: np.ndarray


# ----------------------------------------------------------------------------------------------
# Losses (tensors in, scalar tensors out).


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


# ----------------------------------------------------------------------------------------------
# Feature networks.


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
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if filters == 0 or channels == 0:
        raise ValueError(f"filters and channels must be positive, got {filters}, {channels}")
    sizes = tuple(kernel_sizes)
    if not sizes or any(
        isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1 for k in sizes
    ):
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


# ----------------------------------------------------------------------------------------------
# Images.


def load_image(image, size=None):
    """An image as a float32 (H, W, C) array in [0, 1], optionally cropped and resized.

    Args:
        image: the name of a bundled photograph (`tfgen.data.builders.PHOTO_NAMES`), a path to
            an image file (read with Pillow), or an array (H, W, C) with C in (1, 3): uint8
            in [0, 255] or floats in [0, 1].
        size: None, an int or (height, width): centre-crop to that aspect, then resize (area
            averaging).
    """
    size = _image_size(size, "size")
    if isinstance(image, str | os.PathLike):
        from tfgen.data import builders

        if isinstance(image, str) and image in builders.PHOTO_NAMES:
            image = builders.photo_arrays()[image]
        elif os.path.isfile(image):
            from tfgen.data import sources

            image = sources.read_image(image)
        else:
            raise ValueError(
                f"image {os.fspath(image)!r} is neither a file nor a bundled photograph "
                f"{builders.PHOTO_NAMES}"
            )
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] not in (1, 3) or 0 in array.shape:
        raise ValueError(f"image must be an array (H, W, C) with C in (1, 3), got {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError("image must be uint8 or floats in [0, 1], got values outside [0, 1]")
    if size is None:
        return array
    height, width = array.shape[:2]
    scale = min(height / size[0], width / size[1])
    crop_h, crop_w = round(size[0] * scale), round(size[1] * scale)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    array = array[top : top + crop_h, left : left + crop_w]
    return np.clip(tf.image.resize(array, size, method="area").numpy(), 0.0, 1.0)


def _image_size(image_size, name="image_size"):
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    size = tuple(image_size) if isinstance(image_size, tuple | list) else ()
    if len(size) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in size
    ):
        raise ValueError(f"{name} must be None, an int >= 1 or (height, width), got {size!r}")
    return checks.image_pixels(tuple(int(s) for s in size), name, MAX_PIXELS)


def _prepare(image, name, size, channels):
    """(1, H, W, channels) in [-1, 1]: `load_image(image, size)` with the network's channels."""
    try:
        array = load_image(image, size)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if array.shape[-1] != channels:
        if channels == 3:
            array = np.repeat(array, 3, axis=-1)
        else:  # one-channel network: luminance (ITU-R 601)
            array = array @ np.array([[0.299], [0.587], [0.114]], np.float32)
    return tf.constant(array[None] * 2.0 - 1.0, tf.float32)


def _gaussian_blur(images, sigma):
    """Separable Gaussian blur (radius 2 sigma, reflected borders) of (B, H, W, C) images."""
    radius = max(1, math.ceil(2 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    kernel_h = tf.tile(tf.constant(taps)[:, None, None, None], [1, 1, channels, 1])
    kernel_w = tf.tile(tf.constant(taps)[None, :, None, None], [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, kernel_h, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, kernel_w, [1, 1, 1, 1], "VALID")


# ----------------------------------------------------------------------------------------------
# Argument checks.


def _weight(name, value, allow_zero=True):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return float(value)


def _seed(seed):
    return checks.seed_or_random(seed)


def _optimizer(optimizer, learning_rate, maximize):
    """Check the optimizer arguments; return a function (image pixels) -> what drives the image.

    That is a fresh Keras optimizer (a copy of an instance, which may be built for other
    variables already), or the string "conjugate_gradient".
    """
    if learning_rate is not None:
        if not isinstance(optimizer, str) or optimizer == "conjugate_gradient":
            raise ValueError(
                "learning_rate applies to the optimizer names "
                f"{OPTIMIZERS[:3]}, got optimizer={optimizer!r}"
            )
        _weight("learning_rate", learning_rate, allow_zero=False)
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {OPTIMIZERS} or a Keras optimizer, got {optimizer!r}"
            )
        return functools.partial(_named_optimizer, optimizer, learning_rate, maximize)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            f"optimizer must be one of {OPTIMIZERS} or a keras.optimizers.Optimizer, "
            f"got {optimizer!r}"
        )
    if getattr(optimizer, "maximize", False) and not maximize:
        raise ValueError(
            "optimizer has maximize=True, but this objective is a loss to minimise; "
            "pass an optimizer with maximize=False"
        )
    return lambda pixels: optimizer.__class__.from_config(optimizer.get_config())


def _named_optimizer(name, learning_rate, maximize, pixels):
    """The optimizer `name`, its learning rate given for a 64x64 image.

    The losses are means over positions, so their gradient per pixel shrinks in proportion to
    the number of pixels; gradient descent's and Nesterov's steps grow with it to stay the same
    per pixel (Adam's step does not depend on the gradient's scale).
    """
    if name == "conjugate_gradient":
        return name
    rate = float(learning_rate or _LEARNING_RATES[name])
    if name == "adam":
        return tfgen_optimizers.Adam(rate, maximize=maximize)
    rate *= pixels / _REFERENCE_PIXELS
    momentum = 0.9 if name == "nesterov" else 0.0
    return tfgen_optimizers.Nesterov(rate, momentum=momentum, maximize=maximize)


# ----------------------------------------------------------------------------------------------
# The optimisation loop.


def _optimize(
    objective, start, optimizer, steps, num_snapshots, maximize, shift=None, project=None
):
    """Optimise the pixels of `start` ((1, H, W, C) in [-1, 1]) and collect the result.

    `objective(x)` is the scalar to minimise (or maximise), `shift(x, step)` an optional random
    transformation of the input at each evaluation (jitter), `project(x)` what is applied after
    every step before clipping to [-1, 1] (blur).
    """
    image = tf.Variable(start, name="image")
    optimizer = optimizer(int(start.shape[1] * start.shape[2]))
    project = project or _identity
    # The objective is plain TensorFlow (no Python control flow on tensors): AutoGraph need not
    # convert it, and cannot for closures made per call.
    objective = tf.autograph.experimental.do_not_convert(objective)
    boundaries = np.unique(np.linspace(0, steps, num_snapshots + 1).round().astype(int))
    losses, snapshots, snapshot_evaluations = [], [_to_unit(image)], [0]

    if optimizer == "conjugate_gradient":
        run = _solver_chunk(objective, image, int(np.diff(boundaries).max()), maximize, project)
    else:
        run = _optimizer_chunk(objective, image, optimizer, maximize, shift, project)
    for first, last in zip(boundaries[:-1], boundaries[1:], strict=True):
        losses.extend(run(int(first), int(last - first)))
        snapshots.append(_to_unit(image))
        snapshot_evaluations.append(len(losses))
    losses.append(float(tf.function(objective, autograph=False)(image)))
    snapshot_evaluations[-1] = len(losses)
    return StylizeResult(
        image=snapshots[-1],
        losses=np.asarray(losses, np.float64),
        evaluations=len(losses),
        snapshots=np.stack(snapshots),
        snapshot_evaluations=np.asarray(snapshot_evaluations),
    )


def _to_unit(image):
    return ((image.numpy()[0] + 1.0) / 2.0).astype(np.float32)


def _optimizer_chunk(objective, image, optimizer, maximize, shift, project):
    """A compiled loop running `count` steps of a Keras optimizer on `image`."""
    optimizer.build([image])
    # The gradient the optimizer sees: ascent is its own sign flip when it has maximize=True.
    sign = -1.0 if maximize and not getattr(optimizer, "maximize", False) else 1.0

    @tf.function
    def run(first, count):
        losses = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            with tf.GradientTape() as tape:
                x = image if shift is None else shift(image, first + i)
                loss = objective(x)
            gradient = tape.gradient(loss, image)
            optimizer.apply_gradients([(sign * gradient, image)])
            image.assign(tf.clip_by_value(project(image), -1.0, 1.0))
            losses = losses.write(i, loss)
        return losses.stack()

    return lambda first, count: run(tf.constant(first), tf.constant(count)).numpy().tolist()


def _solver_chunk(objective, image, most_steps, maximize, project):
    """`count` conjugate-gradient iterations of `tfgen.solvers.minimize`, then a projection.

    The line search needs the path x + alpha d unprojected, so the image is projected (and
    clipped to [-1, 1]) between calls, after every snapshot interval, rather than after every
    iteration. Each evaluation's loss is recorded from inside the solver's loop into `trace`.
    """
    capacity = 1 + most_steps * _LINE_SEARCH_EVALUATIONS
    trace = tf.Variable(tf.zeros([capacity]), trainable=False)
    count = tf.Variable(0, trainable=False)
    sign = -1.0 if maximize else 1.0

    def loss_fn():
        value = objective(image)
        index = tf.minimum(count.read_value(), capacity - 1)
        with tf.control_dependencies([trace.scatter_nd_update([[index]], [value])]):
            with tf.control_dependencies([count.assign_add(1)]):
                return sign * tf.identity(value)

    # Inside a tf.function the solver builds its loop in this graph: one trace per chunk length.
    # (Automatic control dependencies keep the reads and writes of count and image in order.)
    @tf.function(autograph=False)
    def solve(steps):
        count.assign(0)
        solvers.minimize(
            loss_fn, [image], "conjugate_gradient", max_iterations=steps, tolerance=0.0
        )
        image.assign(tf.clip_by_value(project(image), -1.0, 1.0))
        return count.read_value()

    def run(first, steps):
        del first
        evaluations = int(solve(steps))
        return trace.numpy()[:evaluations].tolist()

    return run


# ----------------------------------------------------------------------------------------------
# Public tasks.


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
            (uint8, or floats in [0, 1]); see `load_image`.
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
            its aspect and resized); None keeps the content image's size.
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
    style_array = load_image(style) if not isinstance(style, np.ndarray) else style
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
        blur: Gaussian blur sigma in pixels after each step (>= 0; 0 disables it).
        image: optional start image (as `transfer`'s content); default uniform noise.
        num_snapshots, seed: as in `transfer`; the seed also drives the jitter.

    Returns:
        A `StylizeResult` whose `losses` are the activations (rising).
    """
    steps, num_snapshots, seed = _common_checks(steps, num_snapshots, seed)
    if isinstance(jitter, bool) or not isinstance(jitter, numbers.Integral) or jitter < 0:
        raise ValueError(f"jitter must be an int >= 0, got {jitter!r}")
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
        if isinstance(unit, bool) or not isinstance(unit, numbers.Integral):
            raise ValueError(f"unit must be None or an int, got {unit!r}")
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

    project = functools.partial(_gaussian_blur, sigma=blur) if blur else None
    return _optimize(objective, start, optimizer, steps, num_snapshots, True, shift, project)


def save_result(result, output_dir, settings=None):
    """Write a `StylizeResult` into `output_dir`; return the paths written.

    image.png (the result), progress.png (the snapshots, titled with their evaluations),
    losses.png (the loss per evaluation, via `tfgen.plot`) and, with `settings` (a dict of
    JSON-serialisable values), settings.json. Each file is written beside its final name and
    then renamed, so an interrupted save never leaves a half-written file.
    """
    import json

    from tfgen import plot

    if not isinstance(result, StylizeResult):
        raise ValueError(f"result must be a StylizeResult, got {type(result).__name__}")
    os.makedirs(checks.directory_path(output_dir, "output_dir"), exist_ok=True)
    paths = {name: os.path.join(output_dir, name) for name in ("image.png", "progress.png")}
    paths["losses.png"] = os.path.join(output_dir, "losses.png")

    def atomic(path, write):
        temporary = path + ".partial.png"
        write(temporary)
        os.replace(temporary, path)

    atomic(paths["image.png"], lambda path: plot.image_grid(result.image[None], path, scale=4))
    evaluations = ", ".join(str(n) for n in result.snapshot_evaluations)
    atomic(
        paths["progress.png"],
        lambda path: plot.image_grid(
            result.snapshots,
            path,
            columns=len(result.snapshots),
            title=f"after {evaluations} evaluations",
        ),
    )
    curve = {"loss per evaluation": result.losses}
    atomic(paths["losses.png"], lambda path: plot.loss_curves(curve, path))
    if settings is not None:
        paths["settings.json"] = os.path.join(output_dir, "settings.json")
        text = json.dumps(settings, indent=2, sort_keys=True)
        temporary = paths["settings.json"] + ".partial"
        with open(temporary, "w") as stream:
            stream.write(text + "\n")
        os.replace(temporary, paths["settings.json"])
    return paths
