"""Fréchet distance (FID; Heusel et al. 2017, https://arxiv.org/abs/1706.08500), streaming.

    d² = |mu_r - mu_g|² + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))

between Gaussians fitted to the features of real and generated images (means mu, covariances S
divided by n - 1 as numpy's `np.cov`). Only the trace of the square root is needed, and for
symmetric positive semi-definite S_r, S_g the product S_r S_g is similar to the symmetric
A = S_r^(1/2) S_g S_r^(1/2) (S_r^(-1/2) S_r S_g S_r^(1/2) = A when S_r is invertible, and by
continuity otherwise), so

    Tr((S_r S_g)^(1/2)) = Σ_i sqrt(λ_i(A)),

with S_r^(1/2) and the eigenvalues λ_i of A from symmetric eigendecompositions (`numpy.linalg
.eigh`; round-off negatives clipped to 0). That is the value of the reference implementation
(TTUR's `fid.py`, `scipy.linalg.sqrtm(S_r S_g)`), several times faster for 2048-d features, and
real and finite for singular covariances without TTUR's 1e-6 diagonal offset.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from tfgen import _checks as checks
from tfgen.metrics.features import (
    as_feature_extractor,
    check_features,
    warn_if_generated_in_unit_range,
)
from tfgen.metrics.statistics import (
    check_reference_extractor,
    load_reference_statistics,
    mean_and_covariance,
)

__all__ = ["FrechetDistance", "frechet_distance"]


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), a float (module docstring).

    The covariances must be symmetric positive semi-definite (sample covariances are); their
    square-root term is the trace of sqrt(sqrt(sigma1) sigma2 sqrt(sigma1)).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2)
    sigma2 = sigma2.astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(
            "means must be (d,) and covariances (d, d) of one d, got "
            f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} holds NaN or infinite values")
    diff = mu1 - mu2
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    )


def _symmetric_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1, sigma2):
    """Tr((sigma1 sigma2)^(1/2)) of two symmetric PSD matrices, through two `eigh` calls."""
    root = _symmetric_sqrt(sigma1)
    inner = root @ sigma2 @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


class FrechetDistance(keras.metrics.Metric):
    """FID as a Keras metric: `update_state(real, generated)` batch by batch, then `result()`.

    State: for each side the count, the sum and the sum of outer products of the features, in
    float64 (not the features), so memory is constant (2 d² + 2 d + 2 numbers) whatever the
    number of samples. The variables are Keras metric variables with `aggregation="sum"`
    (synchronised on read), so under a `tf.distribute` strategy each replica accumulates its
    share and reading the result sums them: N replicas give the one-device result.
    `update_state` is plain TensorFlow (it runs inside `tf.function` and `strategy.run`);
    `result()` computes the distance in numpy (through `tf.numpy_function` when traced). Fewer
    samples than feature dimensions gives a `RuntimeWarning`: the covariance is then singular
    and the distance biased.

    Args:
        feature_extractor: Maps images in [-1, 1] to features (see `tfgen.metrics.features`):
            a `FeatureExtractor`, a Keras model or callable, or None when the inputs are
            features already.
        reference: Real-side statistics from `reference_statistics` (a path to the .npz or its
            dict); then `update_state(None, generated)` feeds only generated images.
        feature_dim: Length of the features when the extractor does not say it (e.g. the
            identity); otherwise taken from the extractor or the reference. When unknown, the
            first eager `update_state` sets it.
        name: Metric name (the key in logs). Defaults to `"fid"`.
    """

    def __init__(
        self, feature_extractor=None, reference=None, feature_dim=None, name="fid", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.feature_extractor = as_feature_extractor(feature_extractor)
        self.reference = None
        if reference is not None:
            self.reference = load_reference_statistics(reference)
            check_reference_extractor(self.reference, self.feature_extractor)
        known = [
            int(d)
            for d in (
                feature_dim,
                self.feature_extractor.feature_dim,
                None if self.reference is None else self.reference["mu"].shape[0],
            )
            if d is not None
        ]
        if len(set(known)) > 1:
            raise ValueError(
                f"feature_dim {feature_dim}, the extractor's feature_dim "
                f"{self.feature_extractor.feature_dim} and the reference statistics' dimension "
                "must agree"
            )
        self.feature_dim = None
        self._sides = {}
        if known:
            self._build(known[0])

    def _build(self, dim):
        self.feature_dim = checks.positive_int(dim, "feature_dim")
        sides = ("generated",) if self.reference is not None else ("real", "generated")
        for side in sides:
            self._sides[side] = tuple(
                self.add_variable(shape, "zeros", dtype="float64", aggregation="sum", name=name)
                for shape, name in (
                    ((), f"{side}_count"),
                    ((dim,), f"{side}_sum"),
                    ((dim, dim), f"{side}_outer"),
                )
            )

    def update_state(self, real, generated, sample_weight=None):
        """Adds a batch of real and one of generated images (or features) to the statistics."""
        if sample_weight is not None:
            raise ValueError("FrechetDistance does not take sample_weight; got one")
        if (real is None) != (self.reference is not None):
            raise ValueError(
                "real must be None when the metric has reference statistics, and images "
                f"otherwise; got real={'None' if real is None else 'a batch'} with reference="
                f"{'given' if self.reference is not None else 'None'}"
            )
        if generated is None:
            raise ValueError("generated must be a batch of images or features, got None")
        warn_if_generated_in_unit_range(real, generated)
        batches = {"generated": generated}
        if real is not None:
            batches["real"] = real
        for side, batch in batches.items():
            features = check_features(self.feature_extractor(batch), f"{side} features")
            if self.feature_dim is None:
                if not tf.executing_eagerly():
                    raise ValueError(
                        "FrechetDistance needs feature_dim to run inside tf.function; pass it"
                    )
                self._build(int(features.shape[1]))
            if features.shape[1] is not None and features.shape[1] != self.feature_dim:
                raise ValueError(
                    f"{side} features have {features.shape[1]} dimensions, expected "
                    f"{self.feature_dim}"
                )
            count, total, outer = self._sides[side]
            features = tf.cast(features, tf.float64)
            count.assign_add(tf.cast(tf.shape(features)[0], tf.float64))
            total.assign_add(tf.reduce_sum(features, axis=0))
            outer.assign_add(tf.matmul(features, features, transpose_a=True))

    def statistics(self):
        """{side: (count, mean, covariance)} in numpy float64, from the accumulated sums."""
        result = {}
        for side, variables in self._sides.items():
            count, total, outer = (keras.ops.convert_to_numpy(v) for v in variables)
            if count < 2:
                raise ValueError(
                    f"FrechetDistance needs at least 2 {side} samples, got {int(count)}; call "
                    "update_state first"
                )
            result[side] = (int(count), *mean_and_covariance(count, total, outer))
        if self.reference is not None:
            reference = self.reference
            result["real"] = (reference["count"], reference["mu"], reference["sigma"])
        return result

    def _distance(self):
        statistics = self.statistics()
        for side, (count, _, _) in statistics.items():
            if count < self.feature_dim:
                warnings.warn(
                    f"Fréchet distance from {count} {side} samples in {self.feature_dim} "
                    "dimensions: fewer samples than dimensions make the covariance singular "
                    f"and the distance biased upwards; use well over {self.feature_dim}",
                    RuntimeWarning,
                    stacklevel=3,
                )
        (_, mu1, sigma1), (_, mu2, sigma2) = statistics["real"], statistics["generated"]
        return np.float64(frechet_distance(mu1, sigma1, mu2, sigma2))

    def result(self):
        if self.feature_dim is None:
            raise ValueError("FrechetDistance.result() before any update_state")
        if tf.executing_eagerly():
            return tf.constant(self._distance(), tf.float64)
        return tf.numpy_function(self._distance, [], tf.float64, stateful=True)

    def reset_state(self):
        for variables in self._sides.values():
            for variable in variables:
                variable.assign(keras.ops.zeros(variable.shape, variable.dtype))

    def get_config(self):
        return {**super().get_config(), "feature_dim": self.feature_dim}
