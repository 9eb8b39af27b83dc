"""GAN inversion: the latent codes that best explain images through a trained generator."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import images as tfgen_images
from tfgen import solvers
from tfgen._checks import MAX_ITERATIONS
from tfgen.optimizers import nesterov

__all__ = ["INVERSION_LOSSES", "INVERSION_METHODS", "InversionResult", "invert"]

INVERSION_METHODS = ("conjugate_gradient", "nesterov", "adam")
INVERSION_LOSSES = ("l2", "l1")
# Defaults of the first-order methods for codes of unit scale (z ~ N(0, I)) and per-image
# losses that are means over pixels; conjugate gradient needs none (its line search sets steps).
_DEFAULT_OPTIONS = {
    "conjugate_gradient": {},
    "nesterov": {"learning_rate": 1.0, "momentum": nesterov.DEFAULT_MOMENTUM},
    "adam": {"learning_rate": 0.1},
}


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
        checks.at_most(checks.integer(value, name, minimum=1), name, most)
    checks.seed(seed)
    latent_shape, image_shape = _check_generator(generator)
    images = _check_images(images, image_shape)
    mask = _check_mask(mask, images.shape)
    opts = {**_DEFAULT_OPTIONS[method], **options}
    seed = checks.seed_or_random(seed)

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
    checks.built_model(generator, "generator")
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
    tfgen_images.check_range(images, "images", tfgen_images.MODEL_RANGE, "the generator's range")
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
