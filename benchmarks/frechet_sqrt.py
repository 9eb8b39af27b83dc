"""Seconds of the Fréchet distance's square-root term for one pair of d x d covariances.

Two forms of Tr((S1 S2)^(1/2)), same run, same matrices (sample covariances of 2d Gaussian
features with random correlations): the reference implementation's `scipy.linalg.sqrtm(S1 @
S2)` (TTUR's fid.py; its real part's trace), and tfgen's `trace_sqrt_product` (two symmetric
eigendecompositions: sqrt(S1), then the eigenvalues of sqrt(S1) S2 sqrt(S1)). Best of
`--repeats`, and the two traces' relative difference.

    PYTHONPATH=. python benchmarks/frechet_sqrt.py [--dim 2048] [--repeats 3]
"""

import _common
import numpy as np
import scipy.linalg
from absl import flags

from tfgen.metrics.frechet import trace_sqrt_product

FLAGS = flags.FLAGS
flags.DEFINE_integer("dim", 2048, "Feature dimension d.")
flags.DEFINE_integer("repeats", 3, "Timed calls of each form; the best is reported.")


def covariance(rng, dim):
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    samples = rng.standard_normal((2 * dim, dim)) @ mixing
    return np.cov(samples, rowvar=False)


def main(argv):
    del argv
    rng = np.random.default_rng(0)
    sigma1, sigma2 = covariance(rng, FLAGS.dim), covariance(rng, FLAGS.dim)
    scipy_seconds, scipy_trace = _common.best_seconds(
        lambda: float(np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2).real)), FLAGS.repeats
    )
    eigh_seconds, eigh_trace = _common.best_seconds(
        lambda: trace_sqrt_product(sigma1, sigma2), FLAGS.repeats
    )
    print(f"d = {FLAGS.dim}, best of {FLAGS.repeats}:")
    print(f"scipy.linalg.sqrtm(S1 @ S2):  {scipy_seconds:.2f} s")
    speedup = scipy_seconds / eigh_seconds
    print(f"trace_sqrt_product (2 eigh):  {eigh_seconds:.2f} s  ({speedup:.1f}x faster)")
    print(f"relative difference of the traces: {abs(eigh_trace - scipy_trace) / scipy_trace:.1e}")


if __name__ == "__main__":
    _common.run(main)
