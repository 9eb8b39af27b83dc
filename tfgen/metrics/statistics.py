"""Reference statistics: the real side of FID and KID computed once and saved, as clean-fid does.

    stats = tfgen.metrics.reference_statistics(images, tfgen.metrics.digits_features(), "d.npz")
    fid = tfgen.metrics.FrechetDistance(tfgen.metrics.digits_features(), reference="d.npz")

The file (numpy .npz) holds `mu` (mean), `sigma` (covariance, divided by n - 1 as numpy's
`np.cov`), `count`, the extractor's `extractor` name, and unless `keep_features=False` the
`features` themselves (KID needs samples, not moments).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfgen import _files
from tfgen.metrics.features import as_feature_extractor

__all__ = ["load_reference_statistics", "reference_statistics"]

_KEYS = ("mu", "sigma", "count", "extractor")


class Moments:
    """Count, sum and sum of outer products of feature vectors, in float64 (numpy)."""

    def __init__(self, dim):
        self.count = 0
        self.total = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def add(self, features):
        features = np.asarray(features, np.float64)
        self.count += features.shape[0]
        self.total += features.sum(0)
        self.outer += features.T @ features

    def mean_and_covariance(self):
        return mean_and_covariance(self.count, self.total, self.outer)


def mean_and_covariance(count, total, outer):
    """Mean and unbiased covariance (numpy's `np.cov`) from count, sum and sum of outer products."""
    count = float(count)
    mean = total / count
    covariance = (outer - count * np.outer(mean, mean)) / (count - 1.0)
    return mean, (covariance + covariance.T) / 2.0  # exactly symmetric


def image_batches(images, num_samples=None):
    """Numpy batches from a `tf.data.Dataset` of images (or (images, ...) tuples) or an array.

    Stops after `num_samples` images when given.
    """
    if isinstance(images, tf.data.Dataset):
        batches = images.as_numpy_iterator()
    else:
        array = np.asarray(images, np.float32)
        batches = (array[i : i + 256] for i in range(0, len(array), 256))
    seen = 0
    for batch in batches:
        if isinstance(batch, tuple | list):
            batch = batch[0]
        if isinstance(batch, dict):
            batch = batch.get("images", next(iter(batch.values())))
        if num_samples is not None:
            batch = batch[: num_samples - seen]
        if len(batch):
            yield batch
        seen += len(batch)
        if num_samples is not None and seen >= num_samples:
            return


def reference_statistics(
    dataset, feature_extractor, path=None, num_samples=None, keep_features=True
):
    """Features of real images summarised once for FID (and KID) and saved to `path`.

    Args:
        dataset: Images in [-1, 1]: a `tf.data.Dataset` of batches (the first element of tuple
            batches) or an array (n, H, W, C).
        feature_extractor: As for `FrechetDistance`.
        path: Where to write the .npz file (atomically); None writes nothing.
        num_samples: Use at most this many images; None uses all.
        keep_features: Also save the features, which `KernelDistance` needs.

    Returns:
        A dict with `mu`, `sigma`, `count`, `extractor` and (with `keep_features`) `features`.
    """
    extractor = as_feature_extractor(feature_extractor)
    moments, kept = None, []
    for batch in image_batches(dataset, num_samples):
        features = extractor(batch).numpy()
        moments = moments or Moments(features.shape[1])
        moments.add(features)
        if keep_features:
            kept.append(features)
    if moments is None or moments.count < 2:
        raise ValueError("dataset must hold at least 2 images for a covariance, got fewer")
    mu, sigma = moments.mean_and_covariance()
    statistics = dict(mu=mu, sigma=sigma, count=moments.count, extractor=extractor.name)
    if keep_features:
        statistics["features"] = np.concatenate(kept).astype(np.float32)
    if path is not None:
        _save_npz_atomically(path, statistics)
    return statistics


def _save_npz_atomically(path, arrays):
    path = os.path.abspath(os.fspath(path))
    if not path.endswith(".npz"):
        raise ValueError(f"path must end in '.npz', got {path!r}")
    with _files.replaced_atomically(path) as staging, open(staging, "wb") as file:
        np.savez(file, **arrays)


def load_reference_statistics(reference):
    """A statistics dict from a path written by `reference_statistics`, or the dict itself."""
    if isinstance(reference, dict):
        statistics = dict(reference)
    else:
        path = os.fspath(reference)
        if not os.path.exists(path):
            raise ValueError(
                f"reference {path!r} does not exist; write it with "
                "tfgen.metrics.reference_statistics(dataset, feature_extractor, path)"
            )
        with np.load(path, allow_pickle=False) as file:
            statistics = {key: file[key] for key in file.files}
    missing = [key for key in _KEYS if key not in statistics]
    if missing:
        raise ValueError(f"reference statistics lack {missing}; expected keys {list(_KEYS)}")
    statistics["mu"] = np.asarray(statistics["mu"], np.float64)
    statistics["sigma"] = np.asarray(statistics["sigma"], np.float64)
    statistics["count"] = int(statistics["count"])
    statistics["extractor"] = str(statistics["extractor"])
    dim = statistics["mu"].shape
    if len(dim) != 1 or statistics["sigma"].shape != dim * 2:
        raise ValueError(
            f"reference statistics: mu must be (d,) and sigma (d, d), got {statistics['mu'].shape}"
            f" and {statistics['sigma'].shape}"
        )
    return statistics


def check_reference_extractor(statistics, extractor):
    """ValueError when the statistics were made by another extractor than `extractor`."""
    if statistics["extractor"] != extractor.name:
        raise ValueError(
            f"the reference statistics were computed with the extractor "
            f"{statistics['extractor']!r}, but this metric uses {extractor.name!r}; features of "
            "different networks are not comparable"
        )
