"""The deep image prior: restoring one image by fitting an untrained network to it."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import architectures, corruptions, optimizers
from tfgen import images as tfgen_images
from tfgen._checks import MAX_ITERATIONS
from tfgen.reconstruct.inversion import _check_mask

__all__ = [
    "DIP_DEPTH",
    "DIP_FILTERS",
    "DIP_INPUT_SCALE",
    "DIP_LEARNING_RATE",
    "DIP_SMOOTHING",
    "DeepImagePriorResult",
    "deep_image_prior",
]

# ---------------------------------------------------------------------------------------------
# Restoration without training data.

#: Ulyanov et al. 2018 (section 4): network input z ~ U(0, 0.1), outputs averaged over the
#: iterations (their code's exp_weight 0.99). Their Adam learning rate 0.01 drove the tanh output
#: of this network (no batch normalisation) into saturation on a dark photograph, where it
#: stopped learning; 1e-3 does not (benchmarks/restoration.py).
DIP_INPUT_SCALE = 0.1
DIP_LEARNING_RATE = 1e-3
DIP_SMOOTHING = 0.99
#: The default network: a non-residual `architectures.unet` this wide and deep (wider and deeper
#: ones fitted far more slowly in benchmarks/restoration.py).
DIP_FILTERS = 16
DIP_DEPTH = 2
#: Ulyanov et al. use LeakyReLU(0.2), the DCGAN discriminator's slope; with plain ReLUs the
#: network can die on a dark image.
LEAKY_RELU_SLOPE = architectures.LEAKY_RELU_SLOPE
# Corruptions that are no operator to fit through: random noise, or not differentiable.
_NOT_AN_OPERATOR = ("GaussianNoise", "JPEG", "RandomMask")


@dataclasses.dataclass(frozen=True)
class DeepImagePriorResult:
    """Outcome of `deep_image_prior`.

    Attributes:
        image: (H, W, C) float32 in [0, 1], the restored image (the average of the outputs
            when smoothing, else the last output).
        losses: (steps,) float32, the data-fitting loss at each step.
        psnr: dict {step: PSNR in dB of the restored image against `clean`} at step 0 (the
            degraded image itself), every `report_every` steps and at the end; empty without
            `clean`.
    """

    image: np.ndarray
    losses: np.ndarray
    psnr: dict


def _draw_weights(network, seed):
    """Draws `network`'s random initial weights again from `seed`, leaving global seeds alone.

    Each layer's initializer is re-created with its own seed (the layer's index folded into
    `seed`); initializers without randomness (zeros, ones) keep the values they gave.
    """
    for index, layer in enumerate(network.layers):
        for name in ("kernel", "bias", "gamma", "beta"):
            variable = getattr(layer, name, None)
            initializer = getattr(layer, f"{name}_initializer", None)
            if variable is None or initializer is None:
                continue
            config = initializer.get_config()
            if "seed" not in config:
                continue
            config["seed"] = seed * 1_000 + index
            fresh = type(initializer).from_config(config)
            variable.assign(fresh(tuple(variable.shape), variable.dtype))


def deep_image_prior(
    image,
    corruption=None,
    mask=None,
    network=None,
    optimizer=None,
    steps=1000,
    clean=None,
    smoothing=DIP_SMOOTHING,
    report_every=100,
    seed=0,
) -> DeepImagePriorResult:
    """Restores one image with an untrained network as the prior (Ulyanov et al. 2018, "Deep
    Image Prior").

    A randomly initialised network f_theta maps a fixed random input z ~ U(0, 0.1) to an image;
    its weights are fitted to the degraded image y alone,

        theta* = argmin_theta  sum_p m_p (A(f_theta(z)) - y)_p^2 / sum_p m_p,

    with A the degradation (`corruption`: the identity for denoising, `Downsample` for
    super-resolution, `GaussianBlur` for deblurring) and m the known pixels (`mask`, for
    inpainting). A network fits natural structure long before it fits noise, so stopping early
    (`steps`) leaves the restored image ``x* = f_theta*(z)``. With `smoothing` s > 0 the result
    is the exponential average ``x <- s x + (1 - s) f_theta(z)`` over the steps, as the paper's
    code does, which removes the last of the fitted noise.

    Args:
        image: The degraded image, (H, W, C) or (1, H, W, C), in [0, 1], at full size (as the
            `tfgen.corruptions` make it: a `Downsample`d image is upsampled back).
        corruption: None (denoising, inpainting) or the deterministic degradation the image
            went through, applied to the network's output in the loss: `Downsample`,
            `GaussianBlur` with one sigma, a `Compose` of those, or a differentiable callable
            ``fn(images)`` on images in [-1, 1] (see `tfgen.corruptions.get`).
        mask: None, or the known pixels (1 known, 0 missing), (H, W), (H, W, 1) or (H, W, C),
            with a batch axis of 1 allowed; e.g. `RandomMask.mask(...)[0]`.
        network: A `keras.Model` mapping (1, H, W, C) inputs to (1, H, W, C) images in [-1, 1];
            it is trained in place. Defaults to `architectures.unet(image.shape,
            base_filters=DIP_FILTERS, depth=DIP_DEPTH, residual=False, negative_slope=0.2)`,
            seeded by `seed`.
        optimizer: A Keras optimizer (any of `tfgen.optimizers`). Defaults to tfgen
            `Adam(DIP_LEARNING_RATE)`.
        steps: Optimisation steps, int >= 1: the early stopping that makes this work.
        clean: Optional clean image in [0, 1], shaped like `image`, to report PSNR against.
        smoothing: Exponential averaging weight s in [0, 1) of the outputs. Defaults to 0.99.
        report_every: Steps between two PSNR reports, int >= 1.
        seed: Seed of the network input and of the default network's weights (int).

    Returns:
        A `DeepImagePriorResult`.

    Raises:
        ValueError: for an image, mask or clean image of the wrong shape or range, a random
            or non-differentiable corruption, a network of the wrong shape, or bad steps,
            smoothing, report_every or seed; before any step runs.
    """
    y = _check_unit_image(image, "image")
    shape = y.shape
    if clean is not None:
        clean = _check_unit_image(clean, "clean")
        if clean.shape != shape:
            raise ValueError(f"clean must have the shape of image {shape}, got {clean.shape}")
    known = _check_mask(None if mask is None else _with_batch(mask, "mask"), (1, *shape))
    operator = corruptions.get(corruption)
    if type(operator).__name__ in _NOT_AN_OPERATOR or (
        isinstance(operator, corruptions.GaussianBlur) and operator.sigma[0] != operator.sigma[1]
    ):
        raise ValueError(
            f"corruption must be None or a deterministic, differentiable degradation "
            f"(Downsample, GaussianBlur with one sigma, a callable), got {operator!r}: for "
            "denoising pass corruption=None, for inpainting the mask"
        )
    for name, value in (("steps", steps), ("report_every", report_every)):
        checks.at_most(checks.integer(value, name, minimum=1), name, MAX_ITERATIONS)
    checks.seed(seed, optional=False)
    checks.number(smoothing, "smoothing", 0, 1, high_open=True)
    if network is None:
        network = architectures.unet(
            shape,
            base_filters=DIP_FILTERS,
            depth=DIP_DEPTH,
            residual=False,
            negative_slope=LEAKY_RELU_SLOPE,
        )
        _draw_weights(network, int(seed))
    if not isinstance(network, keras.Model):
        raise ValueError(f"network must be a keras.Model, got {network!r}")
    optimizer = optimizers.Adam(DIP_LEARNING_RATE) if optimizer is None else optimizer
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(f"optimizer must be a keras.optimizers.Optimizer, got {optimizer!r}")

    z = DIP_INPUT_SCALE * tf.random.stateless_uniform((1, *shape), seed=[int(seed), 1])
    wrong_shape = f"network must map inputs (1, *{shape}) to images of that shape"
    try:
        output = network(z, training=False)
    except ValueError as error:
        raise ValueError(f"{wrong_shape}: {error}") from error
    if tuple(output.shape) != (1, *shape):
        raise ValueError(f"{wrong_shape}, got {tuple(output.shape)}")
    target = tf.constant(tfgen_images.to_model_range(y[None]))
    weights = tf.broadcast_to(tf.constant(known), target.shape)
    no_seed = corruptions.as_seed(0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            restored = tf.cast(network(z, training=True), tf.float32)
            degraded = restored if operator is None else operator.call(restored, no_seed)
            loss = tf.reduce_sum(weights * tf.square(degraded - target)) / tf.reduce_sum(weights)
        variables = network.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, restored

    average = None
    losses = np.zeros(int(steps), np.float32)
    history = {}

    def report(at, estimate):
        if clean is not None:
            mse = float(np.mean(np.square(tfgen_images.to_unit_range(estimate) - clean)))
            history[at] = float(10.0 * np.log10(1.0 / max(mse, 1e-20)))

    report(0, target.numpy()[0])
    for i in range(int(steps)):
        loss, restored = step()
        losses[i] = float(loss)
        restored = restored.numpy()[0]
        average = restored if average is None else smoothing * average + (1 - smoothing) * restored
        if (i + 1) % report_every == 0 or i + 1 == steps:
            report(i + 1, average)
    result = tfgen_images.to_unit_range(average)
    return DeepImagePriorResult(image=result, losses=losses, psnr=history)


def _with_batch(array, name):
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f"{name} must hold one image, got a batch of shape {array.shape}")
        return array
    if array.ndim == 2:
        array = array[..., None]
    return array[None]


def _check_unit_image(image, name):
    """One image (H, W, C), float32 in [0, 1]."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or min(image.shape) < 1:
        raise ValueError(
            f"{name} must be one image (H, W, C) or (1, H, W, C), got shape {image.shape}"
        )
    tfgen_images.check_range(image, name, tfgen_images.UNIT_RANGE, "an image's range")
    return np.clip(image, 0.0, 1.0)
