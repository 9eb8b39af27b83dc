"""Reconstruction through a trained generator: find the latent codes that best explain images.

`invert(generator, images)` solves, for each image x_i,

    z_i* = argmin_z  L(x_i, G(z))        (L over the known pixels only when a mask is given)

with `tfgen.solvers.minimize` (conjugate gradient, Nesterov or Adam), which is GAN inversion
(Zhu et al. 2016, "Generative Visual Manipulation on the Natural Image Manifold"; Creswell &
Bharath 2018, "Inverting the Generator of a Generative Adversarial Network"). With a mask that
hides some pixels, G(z*) fills them in: inpainting with the generator as the image prior
(Yeh et al. 2017, "Semantic Image Inpainting with Deep Generative Models").

`deep_image_prior(image, ...)` needs no trained model at all: it fits a randomly initialised
network to one degraded image and stops early (Ulyanov et al. 2018, "Deep Image Prior").
"""

from __future__ import annotations

import dataclasses
import numbers

import keras
import numpy as np
import tensorflow as tf

from tfgen import architectures, corruptions, optimizers, solvers
from tfgen._checks import MAX_ITERATIONS

__all__ = [
    "DIP_DEPTH",
    "DIP_FILTERS",
    "DIP_INPUT_SCALE",
    "DIP_LEARNING_RATE",
    "DIP_SMOOTHING",
    "INVERSION_LOSSES",
    "INVERSION_METHODS",
    "DeepImagePriorResult",
    "InversionResult",
    "deep_image_prior",
    "invert",
]

INVERSION_METHODS = ("conjugate_gradient", "nesterov", "adam")
INVERSION_LOSSES = ("l2", "l1")
# Defaults of the first-order methods for codes of unit scale (z ~ N(0, I)) and per-image
# losses that are means over pixels; conjugate gradient needs none (its line search sets steps).
_DEFAULT_OPTIONS = {
    "conjugate_gradient": {},
    "nesterov": {"learning_rate": 1.0, "momentum": 0.9},
    "adam": {"learning_rate": 0.1},
}
_RANGE_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class InversionResult:
    """Outcome of `invert`.

    Attributes:
        codes: (batch, *latent_shape) float32, the best code found for each image.
        reconstructions: (batch, H, W, C) float32 in the generator's range, G(codes).
        errors: (batch,) float32, each image's loss at its code (over known pixels).
        restart_errors: (restarts, batch) float32, each restart's final per-image loss;
            `errors` is its minimum over restarts.
        function_evaluations: generator evaluations with gradient (on the whole batch) over
            all restarts, as counted by `tfgen.solvers.minimize`.
        iterations: solver iterations over all restarts.
    """

    codes: np.ndarray
    reconstructions: np.ndarray
    errors: np.ndarray
    restart_errors: np.ndarray
    function_evaluations: int
    iterations: int


def _per_image_loss(loss, images, generated, mask):
    """Mean of |d| (l1) or d^2 (l2) over each image's known values; 0 if none is known."""
    diff = generated - images
    values = tf.abs(diff) if loss == "l1" else tf.square(diff)
    weights = tf.broadcast_to(mask, tf.shape(values))
    total = tf.reduce_sum(values * weights, axis=[1, 2, 3])
    return tf.math.divide_no_nan(total, tf.reduce_sum(weights, axis=[1, 2, 3]))


def invert(
    generator,
    images,
    method="conjugate_gradient",
    steps=200,
    loss="l2",
    mask=None,
    restarts=1,
    seed=None,
    tolerance=1e-6,
    **options,
) -> InversionResult:
    """Latent codes whose generated images match `images`.

    Minimises ``sum_i L_i(z_i)`` over all codes at once, where each image's loss

        L_i(z) = sum_p m_ip l(G(z)_ip - x_ip) / sum_p m_ip,   l(d) = d^2 ("l2") or |d| ("l1"),

    runs over pixels and channels p, and m is the mask (all ones without one). Images are
    independent problems (the generator runs in inference mode, so batch normalisation uses its
    moving statistics), summed so that each image's gradient does not depend on the batch size.
    `restarts` runs start from independent codes z ~ N(0, I); each image keeps the code of the
    restart that reached its lowest loss.

    Args:
        generator: A built `keras.Model`, codes (batch, *latent_shape) -> images (batch, H, W, C).
        images: (batch, H, W, C) images in [-1, 1], the generator's range (numpy or tensor).
        method: "conjugate_gradient" (Polak-Ribiere+ with a strong-Wolfe line search), "nesterov"
            or "adam"; see `tfgen.solvers.minimize`.
        steps: Solver iterations per restart (a CG iteration is one line search of several
            evaluations; a Nesterov or Adam iteration is one evaluation).
        loss: "l2" (mean squared error) or "l1" (mean absolute error).
        mask: None, or the known pixels: 1 where a pixel is known, 0 where it is missing
            (values in between weight it), shape (batch, H, W, 1) or (batch, H, W, C). E.g. from
            `tfgen.corruptions.RandomMask.mask`.
        restarts: Number of random initial codes per image, int >= 1.
        seed: Seed of the initial codes (int); None draws a random one.
        tolerance: The solver stops once the gradient norm is at most this.
        **options: Options of the method passed to `tfgen.solvers.minimize`. Nesterov defaults
            to learning_rate=1.0, momentum=0.9 and Adam to learning_rate=0.1, suited to codes of
            unit scale and generators with outputs in [-1, 1] (see benchmarks/inversion.py).

    Returns:
        An `InversionResult`.

    Raises:
        ValueError: for an unknown method or loss, images of the wrong shape, rank or range, a
            mask of the wrong shape or values, or bad steps, restarts or seed; before any
            solver runs.
    """
    if not isinstance(method, str) or method not in INVERSION_METHODS:
        raise ValueError(f"method must be one of {INVERSION_METHODS}, got {method!r}")
    if not isinstance(loss, str) or loss not in INVERSION_LOSSES:
        raise ValueError(f"loss must be one of {INVERSION_LOSSES}, got {loss!r}")
    for name, value, most in (("steps", steps, MAX_ITERATIONS), ("restarts", restarts, 1024)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if value > most:
            raise ValueError(f"{name} must be at most {most}, got {value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be None or an int, got {seed!r}")
    latent_shape, image_shape = _check_generator(generator)
    images = _check_images(images, image_shape)
    mask = _check_mask(mask, images.shape)
    opts = {**_DEFAULT_OPTIONS[method], **options}
    seed = int(np.random.default_rng().integers(2**31 - 1) if seed is None else seed)

    batch = int(images.shape[0])
    images_t = tf.constant(images)
    mask_t = tf.constant(mask)
    codes = tf.Variable(tf.zeros([batch, *latent_shape], tf.float32), name="codes")

    def per_image():
        generated = tf.cast(generator(codes, training=False), tf.float32)
        return _per_image_loss(loss, images_t, generated, mask_t)

    def objective():
        return tf.reduce_sum(per_image())

    best_codes = np.zeros((batch, *latent_shape), np.float32)
    best_errors = np.full(batch, np.inf, np.float32)
    restart_errors = np.zeros((restarts, batch), np.float32)
    evaluations = iterations = 0
    for r in range(restarts):
        codes.assign(tf.random.stateless_normal([batch, *latent_shape], seed=[seed, r]))
        result = solvers.minimize(
            objective,
            [codes],
            method=method,
            max_iterations=int(steps),
            tolerance=tolerance,
            **opts,
        )
        evaluations += result.function_evaluations
        iterations += result.iterations
        errors = per_image().numpy()
        restart_errors[r] = errors
        # A non-finite loss (a diverged first-order run) never wins.
        better = np.isfinite(errors) & (errors < best_errors)
        best_codes[better] = codes.numpy()[better]
        best_errors[better] = errors[better]

    codes.assign(best_codes)
    reconstructions = tf.cast(generator(codes, training=False), tf.float32).numpy()
    return InversionResult(
        codes=best_codes,
        reconstructions=reconstructions,
        errors=best_errors,
        restart_errors=restart_errors,
        function_evaluations=int(evaluations),
        iterations=int(iterations),
    )


def _check_generator(generator):
    if not isinstance(generator, keras.Model) or not generator.built:
        raise ValueError(f"generator must be a built keras.Model, got {generator!r}")
    if len(generator.inputs) != 1 or len(generator.outputs) != 1:
        raise ValueError(
            f"generator must map one code tensor to one image tensor, got "
            f"{len(generator.inputs)} inputs and {len(generator.outputs)} outputs"
        )
    latent_shape = tuple(generator.inputs[0].shape[1:])
    image_shape = tuple(generator.outputs[0].shape[1:])
    if None in latent_shape or not latent_shape:
        raise ValueError(f"generator must take codes of a fixed shape, got {latent_shape}")
    if len(image_shape) != 3 or None in image_shape:
        raise ValueError(
            f"generator must return images of a fixed shape (batch, H, W, C), got {image_shape}"
        )
    return tuple(int(d) for d in latent_shape), tuple(int(d) for d in image_shape)


def _check_images(images, image_shape):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            f"images must have rank 4, (batch, height, width, channels), got shape {images.shape}"
        )
    if images.shape[1:] != image_shape:
        raise ValueError(
            f"images have shape {images.shape[1:]} but the generator makes {image_shape}"
        )
    if images.shape[0] < 1:
        raise ValueError("images must hold at least one image, got an empty batch")
    low, high = float(images.min()), float(images.max())
    if (
        not (np.isfinite(low) and np.isfinite(high))
        or low < -1 - _RANGE_TOLERANCE
        or (high > 1 + _RANGE_TOLERANCE)
    ):
        raise ValueError(
            f"images must lie in [-1, 1] (the generator's range), got values in [{low:g}, {high:g}]"
        )
    return images


def _check_mask(mask, shape):
    batch, height, width, channels = shape
    if mask is None:
        return np.ones((batch, height, width, 1), np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    allowed = ((batch, height, width, 1), (batch, height, width, channels))
    if mask.shape not in allowed:
        raise ValueError(
            f"mask must have shape {allowed[0]} or {allowed[1]} (1 where a pixel is known), "
            f"got {mask.shape}"
        )
    if not np.all(np.isfinite(mask)) or mask.min() < 0 or mask.max() > 1:
        raise ValueError(
            f"mask values must lie in [0, 1] (1 = known, 0 = missing), got values in "
            f"[{mask.min():g}, {mask.max():g}]"
        )
    # An image with no known pixel fits any code with error 0: a perfect score meaning nothing.
    hidden = np.flatnonzero(mask.reshape(batch, -1).max(axis=1) == 0)
    if hidden.size:
        raise ValueError(
            f"mask hides every pixel of image(s) {hidden[:5].tolist()} (all zeros): nothing is "
            "known to fit there; keep some pixels known (1) in every image"
        )
    return mask


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
#: Ulyanov et al. use LeakyReLU(0.2); with plain ReLUs the network can die on a dark image.
LEAKY_RELU_SLOPE = 0.2
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
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if value > MAX_ITERATIONS:
            raise ValueError(f"{name} must be at most {MAX_ITERATIONS}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an int, got {seed!r}")
    ok = isinstance(smoothing, numbers.Real) and not isinstance(smoothing, bool)
    if not ok or not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
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
    target = tf.constant(2.0 * y[None] - 1.0)
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
            mse = float(np.mean(np.square(np.clip((estimate + 1.0) / 2.0, 0, 1) - clean)))
            history[at] = float(10.0 * np.log10(1.0 / max(mse, 1e-20)))

    report(0, target.numpy()[0])
    for i in range(int(steps)):
        loss, restored = step()
        losses[i] = float(loss)
        restored = restored.numpy()[0]
        average = restored if average is None else smoothing * average + (1 - smoothing) * restored
        if (i + 1) % report_every == 0 or i + 1 == steps:
            report(i + 1, average)
    result = np.clip((average + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
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
    low, high = float(image.min()), float(image.max())
    if (
        not (np.isfinite(low) and np.isfinite(high))
        or low < -_RANGE_TOLERANCE
        or high > 1 + (_RANGE_TOLERANCE)
    ):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{low:g}, {high:g}]")
    return np.clip(image, 0.0, 1.0)
