"""Kernel Inception Distance (KID; Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401).

The unbiased estimate of the squared maximum mean discrepancy between real features X and
generated features Y with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³:

    MMD² = 1/(m(m-1)) Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m² Σ_{i,j} k(x_i, y_j)

averaged over `subsets` random subsets of m samples of each side (drawn without replacement,
as the authors' code does). Unlike FID it is unbiased, so it is fair with few samples.

The spread reported with it is the standard deviation over the subsets: how much a KID of m
samples varies. It means something only when the subsets differ; with m equal to both sample
counts every subset is the whole set and the spread would be a round-off zero, so it is NaN
instead (there is no spread to report). By default m is half the smaller side (at most 1,000),
so that the subsets differ; a `subset_size` larger than the samples is an error.
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
from tfgen.metrics.statistics import check_reference_extractor, load_reference_statistics

__all__ = ["KernelDistance", "kernel_distance"]


def _polynomial_kernel(a, b):
    base = a @ b.T / a.shape[1] + 1.0
    return base * base * base  # far faster than numpy's general power


#: The largest subset the default `subset_size` chooses (the authors' code's size).
MAX_SUBSET_SIZE = 1000


def default_subset_size(n_real, n_generated):
    """Half the smaller side, at most `MAX_SUBSET_SIZE` (at least 2): subsets that differ."""
    return max(2, min(MAX_SUBSET_SIZE, min(n_real, n_generated) // 2))


#: Most samples of a side whose whole kernel matrices `kernel_distance` computes (32 MB each).
MAX_WHOLE_KERNEL_SAMPLES = 2048


def _whole_kernels_pay(n_real, n_generated, m, count):
    """Whether the kernels of all samples, computed once, cost fewer products than `count`
    subsets' own (m x m, three each) and fit in memory."""
    whole = n_real * n_real + n_generated * n_generated + n_real * n_generated
    return max(n_real, n_generated) <= MAX_WHOLE_KERNEL_SAMPLES and whole < 3 * count * m * m


def _estimates_from_whole_kernels(real, generated, draws, m):
    """Each subset's MMD² from the kernel matrices of all samples: a subset's sum over its
    block of K is wᵀ K w, w the subset's 0/1 indicator, for all subsets in one product."""
    rows = np.zeros((len(draws), len(real)))
    columns = np.zeros((len(draws), len(generated)))
    for index, (chosen_rows, chosen_columns) in enumerate(draws):
        rows[index, chosen_rows] = 1.0
        columns[index, chosen_columns] = 1.0

    def block_sums(a, b, left, right, diagonal):
        kernel = _polynomial_kernel(a, b)
        sums = np.einsum("si,si->s", left @ kernel, right)
        return sums - left @ np.diag(kernel) if diagonal else sums

    within = block_sums(real, real, rows, rows, True)
    within += block_sums(generated, generated, columns, columns, True)
    between = block_sums(real, generated, rows, columns, False)
    return within / (m * (m - 1)) - 2.0 * between / m**2


def kernel_distance(real, generated, subset_size=None, subsets=100, seed=0):
    """(mean, std) of the unbiased MMD² over random subsets (see the module docstring).

    `subset_size` None chooses `default_subset_size`; larger than either side's samples it is a
    `ValueError`. `std` is NaN when every subset is the whole of both sides (no spread).
    """
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(
            "real and generated features must be (n, d) of one d, got "
            f"{real.shape} and {generated.shape}"
        )
    n_real, n_generated = len(real), len(generated)
    if min(n_real, n_generated) < 2:
        raise ValueError(
            f"KID needs at least 2 samples on each side, got {n_real} real and {n_generated} "
            "generated"
        )
    m = default_subset_size(n_real, n_generated) if subset_size is None else int(subset_size)
    if m > min(n_real, n_generated):
        raise ValueError(
            f"subset_size={m} is larger than the samples ({n_real} real, {n_generated} "
            f"generated); use at most {min(n_real, n_generated)}, or None for half the smaller "
            "side, which gives a spread"
        )
    if m < 2:
        raise ValueError(f"subset_size must be at least 2, got {m}")
    same_every_time = m == n_real and m == n_generated
    rng = np.random.default_rng(seed)
    draws = [
        (rng.choice(n_real, m, replace=False), rng.choice(n_generated, m, replace=False))
        for _ in range(1 if same_every_time else subsets)
    ]
    if _whole_kernels_pay(n_real, n_generated, m, len(draws)):
        estimates = _estimates_from_whole_kernels(real, generated, draws, m)
    else:
        estimates = np.empty(len(draws))
        for index, (rows, columns) in enumerate(draws):
            x, y = real[rows], generated[columns]
            k_xx, k_yy = _polynomial_kernel(x, x), _polynomial_kernel(y, y)
            k_xy = _polynomial_kernel(x, y)
            within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
            estimates[index] = within - 2.0 * k_xy.sum() / m**2
    if same_every_time or subsets == 1:
        return float(estimates.mean()), float("nan")
    return float(estimates.mean()), float(estimates.std())


class KernelDistance(SampleMetric):
    """KID as a Keras metric: `update_state(real, generated)`, `result()` -> {kid, kid_std}.

    Keeps the features of both sides (n x d float32 each) and evaluates the estimate in numpy.

    Args:
        feature_extractor: As for `FrechetDistance`.
        subset_size: Samples of each side per subset; at most the samples fed (else a
            `ValueError` from `result()`). Defaults to None: half the smaller side, at most
            1,000, so that the subsets differ and `kid_std` is a spread.
        subsets: Number of random subsets averaged. Defaults to `100`.
        seed: Seed of the subset draws, so `result()` is reproducible. Defaults to `0`.
        reference: Statistics from `reference_statistics` saved with their features; then
            `update_state(None, generated)`.
        name: Metric name; `result()` returns `{name: mean, name + "_std": std}`, the std NaN
            when it has no meaning (one subset, or subsets that are all the whole set).
            Defaults to `"kid"`.
    """

    def __init__(
        self,
        feature_extractor=None,
        subset_size=None,
        subsets=100,
        seed=0,
        reference=None,
        name="kid",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        for argument, value in (("subset_size", subset_size), ("subsets", subsets)):
            if value is None and argument == "subset_size":
                continue
            checks.positive_int(value, argument)
        if subset_size is not None and subset_size < 2:
            raise ValueError(f"subset_size must be None or at least 2, got {subset_size}")
        self.feature_extractor = as_feature_extractor(feature_extractor)
        self.subset_size = None if subset_size is None else int(subset_size)
        self.subsets, self.seed = int(subsets), int(seed)
        self.reference_features = None
        if reference is not None:
            statistics = load_reference_statistics(reference)
            check_reference_extractor(statistics, self.feature_extractor)
            if "features" not in statistics:
                raise ValueError(
                    "KernelDistance needs reference statistics saved with their features "
                    "(reference_statistics(..., keep_features=True))"
                )
            self.reference_features = np.asarray(statistics["features"], np.float32)

    def update_state(self, real, generated, sample_weight=None):
        """Keeps the features of a batch of real and one of generated images (or features)."""
        if sample_weight is not None:
            raise ValueError("KernelDistance does not take sample_weight; got one")
        if (real is None) != (self.reference_features is not None):
            raise ValueError("real must be None exactly when the metric has reference statistics")
        warn_if_generated_in_unit_range(real, generated)
        sides = {"generated": generated} if real is None else {"real": real, "generated": generated}
        for side, batch in sides.items():
            self._keep(side, check_features(self.feature_extractor(batch), f"{side} features"))

    def _compute(self):
        real = self.reference_features if self.reference_features is not None else None
        real = self._kept("real") if real is None else real
        generated = self._kept("generated")
        mean, std = kernel_distance(real, generated, self.subset_size, self.subsets, self.seed)
        return {self.name: mean, f"{self.name}_std": std}

    def result(self):
        return self._numpy_result(self._compute, [self.name, f"{self.name}_std"])

    def get_config(self):
        config = dict(subset_size=self.subset_size, subsets=self.subsets, seed=self.seed)
        return {**super().get_config(), **config}
