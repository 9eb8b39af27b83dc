"""Scoring a generator: samples from fixed latent codes against real images, through metrics.

`evaluate_generator` scores a GAN, a generator network, a saved `.keras` GAN or an exported
SavedModel against a dataset and returns plain floats; `tfgen.callbacks.EvaluateGenerator`
runs the same `score` during `fit`.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.export import load_generator
from tfgen.metrics.features import digits_features
from tfgen.metrics.frechet import FrechetDistance
from tfgen.metrics.kernel import KernelDistance
from tfgen.metrics.precision_recall import PrecisionRecall
from tfgen.metrics.statistics import image_batches
from tfgen.models import sampling_network

__all__ = [
    "Sampler",
    "default_metrics",
    "evaluate_generator",
    "real_floor",
    "sampler",
    "score",
    "split_real",
    "with_floors",
]

#: Most images `score` generates.
MAX_SAMPLES = 1_000_000


class Sampler:
    """Images in [-1, 1] from latent codes: `sampler(z)`, with `latent_dim` and `image_shape`."""

    def __init__(self, function, latent_dim, image_shape):
        self.function, self.latent_dim = function, int(latent_dim)
        self.image_shape = tuple(int(d) for d in image_shape)

    def __call__(self, codes):
        return self.function(codes)

    def sample(self, n, seed, batch_size):
        """Batches of `n` images from codes `stateless_normal([b, latent_dim], [seed, index])`."""
        for index, start in enumerate(range(0, n, batch_size)):
            size = min(batch_size, n - start)
            codes = tf.random.stateless_normal([size, self.latent_dim], seed=[seed, index])
            yield np.clip(keras.ops.convert_to_numpy(self(codes)), -1.0, 1.0)


def sampler(generator, trust_saved_model=False):
    """A `Sampler` from a GAN (its `sampling_generator`, the EMA one when there is one; a
    conditional GAN makes every class in turn, so the samples are class-balanced), a generator
    network (latent codes -> images in [-1, 1]), a `.keras` file of either, or the directory of
    a SavedModel exported by `tfgen.export.export_generator` (only with `trust_saved_model`:
    see `tfgen.export.load_generator`)."""
    if isinstance(generator, str | os.PathLike):
        return sampler(load_generator(os.fspath(generator), trust_saved_model))
    network = sampling_network(generator) if isinstance(generator, keras.Model) else generator
    num_classes = getattr(generator, "num_classes", None)
    inputs = 2 if num_classes else 1
    if not isinstance(network, keras.Model) or len(network.inputs or []) != inputs:
        raise ValueError(
            "generator must be a GAN, a generator keras.Model (codes -> images), a .keras file "
            f"or a SavedModel directory, got {type(generator).__name__}"
        )

    def generate(z):
        if num_classes:
            return network([z, tf.range(tf.shape(z)[0]) % num_classes], training=False)
        return network(z, training=False)

    return Sampler(generate, network.inputs[0].shape[-1], network.outputs[0].shape[1:])


def default_metrics(feature_extractor=None):
    """FID, KID and precision/recall in one extractor's features (the digits one by default)."""
    extractor = feature_extractor or digits_features()
    return [FrechetDistance(extractor), KernelDistance(extractor), PrecisionRecall(extractor)]


def _uses_reference(metric):
    return any(
        getattr(metric, name, None) is not None for name in ("reference", "reference_features")
    )


def results(metric):
    """A metric's `result()` as {key: float}: its name for a scalar, the dict's own keys."""
    value = metric.result()
    if isinstance(value, dict):
        return {key: float(v) for key, v in value.items()}
    return {metric.name: float(value)}


def score(metrics, generator, real, num_samples, batch_size=250, seed=0):
    """Feeds `num_samples` generated images and up to as many real ones to each metric.

    Args:
        metrics: Metrics with `update_state(real, generated)`; reset first.
        generator: Anything `sampler` takes, or a `Sampler`.
        real: Real images in [-1, 1] (a dataset of batches or an array); None when every
            metric has reference statistics.
        num_samples: Generated images, and the most real ones used.
        batch_size: Generated images per batch.
        seed: Seed of the latent codes (the same codes at every call).

    Returns:
        {key: float} of all metrics (see `results`).
    """
    num_samples = checks.integer(num_samples, "num_samples", minimum=2)
    if num_samples > MAX_SAMPLES:  # 50,000 is the usual FID; a million is already days
        raise ValueError(f"num_samples must be at most {MAX_SAMPLES:,}, got {num_samples!r}")
    batch_size = checks.positive_int(batch_size, "batch_size")
    if not metrics:
        raise ValueError("metrics must be a non-empty list of metrics")
    generator = generator if isinstance(generator, Sampler) else sampler(generator)
    needs_real = [not _uses_reference(metric) for metric in metrics]
    if real is None and any(needs_real):
        raise ValueError("real images are needed by metrics without reference statistics")
    real_batches = image_batches(real, num_samples) if real is not None else ()
    generated_batches = generator.sample(num_samples, seed, batch_size)
    return _feed(metrics, real_batches, generated_batches, generator.image_shape, needs_real)


def split_real(real, num_samples):
    """Two disjoint sets of `num_samples` real images (numpy): the reference and the floor's.

    The first `num_samples` images of `real` (a dataset of batches or an array) are the
    reference, the next `num_samples` the floor's "generated" side. Too few images is a
    `ValueError` naming how many there are.
    """
    images = _real_array(real, 2 * num_samples)
    if len(images) < 2 * num_samples:
        raise ValueError(
            f"a floor of {num_samples} samples needs {2 * num_samples} real images (a reference "
            f"and as many others), got {len(images)}; lower num_samples to at most "
            f"{len(images) // 2}"
        )
    return images[:num_samples], images[num_samples:]


def _real_array(real, limit):
    batches = list(image_batches(real, limit))
    return np.concatenate(batches) if batches else np.zeros((0,), np.float32)


def with_floors(results, floors):
    """`results` with `<key>_floor` from `floors` after each key (a spread `*_std` has none)."""
    merged = {}
    for key, value in results.items():
        merged[key] = value
        if not key.endswith("_std"):
            merged[f"{key}_floor"] = floors[key]
    return merged


def real_floor(metrics, reference, others, batch_size=250):
    """Each metric of real images `others` against the real `reference`: the best a generator
    can score with these sample counts (FID's bias, KID's and precision's spread included).

    Returns {key: float} as `score` does.
    """
    others = np.asarray(others, np.float32)
    batches = (others[i : i + batch_size] for i in range(0, len(others), batch_size))
    needs_real = [not _uses_reference(metric) for metric in metrics]
    return _feed(metrics, image_batches(reference), batches, others.shape[1:], needs_real)


def _feed(metrics, real_batches, generated_batches, image_shape, needs_real):
    """Resets `metrics`, feeds them pairs of batches (either side may run out first)."""
    for metric in metrics:
        metric.reset_state()
    real_batches, generated_batches = iter(real_batches), iter(generated_batches)
    empty = np.zeros((0, *image_shape), np.float32)
    while True:
        generated = next(generated_batches, None)
        real_batch = next(real_batches, None)
        if generated is None and real_batch is None:
            break
        generated = empty if generated is None else generated
        real_batch = empty if real_batch is None else real_batch
        if real_batch.shape[1:] != generated.shape[1:]:
            raise ValueError(
                f"real images have shape {real_batch.shape[1:]} but the generator makes "
                f"{generated.shape[1:]}"
            )
        for metric, wants_real in zip(metrics, needs_real):
            metric.update_state(real_batch if wants_real else None, generated)
    merged = {}
    for metric in metrics:
        merged.update(results(metric))
    return merged


def evaluate_generator(
    generator,
    real="digits",
    metrics=None,
    num_samples=10_000,
    batch_size=250,
    seed=0,
    split="train",
    data_dir=None,
    trust_saved_model=False,
    floor=False,
):
    """Scores a generator against real images; returns {"fid": ..., "kid": ..., ...} floats.

    With `floor=True` each score comes with `<key>_floor`, the same metric of real images
    against real images at the same sample counts (`split_real`, `real_floor`): the first n
    real images are the reference of both, the next n the floor's, and n generated images are
    scored, n = `num_samples` or, when the real images are fewer than twice that, half of them;
    the result's "num_samples" says which n was used.

    Args:
        generator: A GAN, a generator network, a `.keras` file of either, or a SavedModel
            directory written by `tfgen.export.export_generator`.
        real: A dataset name as `tfgen.data.load` takes it ("digits", "mnist", "folder:/x"),
            loaded at the generator's size and channels; or images in [-1, 1] (a dataset of
            batches or an array); or None when every metric has reference statistics.
        metrics: Metrics to fill; None: FID, KID and precision/recall with the shipped digits
            extractor (`default_metrics()`).
        num_samples: Generated images scored, and the most real images used.
        batch_size: Images per batch.
        seed: Seed of the latent codes.
        split: The split of a named dataset. Defaults to "train", the images the generator
            learned to imitate (pytorch-fid and clean-fid compare with the training set).
        data_dir: tfds data directory of a named dataset.
        trust_saved_model: load a SavedModel `generator`, a program that runs whatever ops it
            holds (see `tfgen.export.load_generator`); without it one is refused.
        floor: Also score real against real (see above); needs real images.
    """
    generator = sampler(generator, trust_saved_model)
    if isinstance(real, str):
        import tfgen.data

        height, width, channels = generator.image_shape
        real = tfgen.data.load(
            real,
            split=split,
            image_size=(height, width),
            channels=channels,
            batch_size=batch_size,
            shuffle=False,
            drop_remainder=False,
            data_dir=data_dir,
        )
    metrics = default_metrics() if metrics is None else list(metrics)
    if not floor:
        return score(metrics, generator, real, num_samples, batch_size, seed)
    if real is None:
        raise ValueError("floor=True needs real images (real against real), got real=None")
    images = _real_array(real, 2 * num_samples)
    n = min(num_samples, len(images) // 2)
    if n < 2:
        raise ValueError(f"floor=True needs at least 4 real images, got {len(images)}")
    reference, others = images[:n], images[n : 2 * n]
    floors = real_floor(metrics, reference, others, batch_size)
    results = score(metrics, generator, reference, n, batch_size, seed)
    return {**with_floors(results, floors), "num_samples": float(n)}
