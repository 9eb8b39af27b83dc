"""Improved precision and recall (Kynkäänniemi et al. 2019, https://arxiv.org/abs/1904.06991).

Each set of features spans a manifold estimate: the union of balls around its samples, each
with the radius of the distance to the sample's k-th nearest neighbour in the same set. Then

    precision = share of GENERATED samples inside the REAL manifold   (fidelity)
    recall    = share of REAL samples inside the GENERATED manifold   (diversity)

so a generator that makes a few perfect images has high precision and low recall, and one that
covers everything with noise the reverse.
"""

from __future__ import annotations

import numpy as np

from tfgen import _checks as checks
from tfgen.metrics.features import (
    as_feature_extractor,
    check_features,
    warn_if_generated_in_unit_range,
)
from tfgen.metrics.samples import SampleMetric

__all__ = ["PrecisionRecall", "precision_recall"]

#: Rows of the distance matrix computed at once (memory: ROWS x n float64).
ROWS = 1024


def _squared_distances(a, b):
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0)


def _kth_neighbour_radii(features, k):
    """Squared distance of each sample to its k-th nearest other sample of the same set."""
    radii = np.empty(len(features))
    for start in range(0, len(features), ROWS):
        distances = _squared_distances(features[start : start + ROWS], features)
        # Column k of the sorted row: index 0 is the sample itself (distance 0).
        radii[start : start + ROWS] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _coverage(manifold, radii, queries):
    """Share of `queries` within the radius of at least one sample of `manifold`."""
    inside = 0
    for start in range(0, len(queries), ROWS):
        distances = _squared_distances(queries[start : start + ROWS], manifold)
        inside += int(np.sum(np.any(distances <= radii[None, :], axis=1)))
    return inside / len(queries)


def precision_recall(real, generated, k=3):
    """(precision, recall) of generated features against real ones (see the module docstring)."""
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(
            "real and generated features must be (n, d) of one d, got "
            f"{real.shape} and {generated.shape}"
        )
    if min(len(real), len(generated)) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} samples on each side, got "
            f"{len(real)} real and {len(generated)} generated"
        )
    precision = _coverage(real, _kth_neighbour_radii(real, k), generated)
    recall = _coverage(generated, _kth_neighbour_radii(generated, k), real)
    return precision, recall


class PrecisionRecall(SampleMetric):
    """Improved precision and recall as a Keras metric; `result()` -> {precision, recall}.

    Keeps the features of both sides and evaluates in numpy, in blocks of `ROWS` rows of the
    distance matrix (time n², memory n x `ROWS`).

    Args:
        feature_extractor: As for `FrechetDistance`.
        k: Neighbour whose distance is a sample's radius. Defaults to `3` (the paper's).
        name: Metric name. `result()` keys are "precision" and "recall" under the default name,
            else `name + "_precision"` and `name + "_recall"`. Defaults to `"precision_recall"`.
    """

    def __init__(self, feature_extractor=None, k=3, name="precision_recall", **kwargs):
        super().__init__(name=name, **kwargs)
        self.k = checks.positive_int(k, "k")
        self.feature_extractor = as_feature_extractor(feature_extractor)
        prefix = "" if name == "precision_recall" else f"{name}_"
        self.keys = (f"{prefix}precision", f"{prefix}recall")

    def update_state(self, real, generated, sample_weight=None):
        """Keeps the features of a batch of real and one of generated images (or features)."""
        if sample_weight is not None:
            raise ValueError("PrecisionRecall does not take sample_weight; got one")
        warn_if_generated_in_unit_range(real, generated)
        for side, batch in (("real", real), ("generated", generated)):
            if batch is None:
                raise ValueError(f"{side} must be a batch of images or features, got None")
            self._keep(side, check_features(self.feature_extractor(batch), f"{side} features"))

    def _compute(self):
        precision, recall = precision_recall(self._kept("real"), self._kept("generated"), self.k)
        return dict(zip(self.keys, (precision, recall)))

    def result(self):
        return self._numpy_result(self._compute, list(self.keys))

    def get_config(self):
        return {**super().get_config(), "k": self.k}
