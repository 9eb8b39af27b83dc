"""Streaming FID against a naive numpy/scipy FID that keeps every feature: time and peak memory.

Both score 10,000 real and 10,000 generated 2048-d features (the size of Inception's pool_3),
arriving in batches of 500 as they would from a feature network. `tfgen.metrics.FrechetDistance`
adds each batch to float64 sums; the naive version keeps the features, then calls `np.cov` and
`scipy.linalg.sqrtm` as TTUR's fid.py does. Each runs in its own child process so that its peak
resident memory (above the process's size after imports) is its own (which is why this one
benchmark does not import `_common`: that would load TensorFlow into both children).

    python benchmarks/metrics.py [--samples 10000] [--dim 2048] [--batch 500]
"""

import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("samples", 10_000, "Features on each side.")
flags.DEFINE_integer("dim", 2048, "Feature dimension.")
flags.DEFINE_integer("batch", 500, "Features per batch.")
flags.DEFINE_enum("variant", None, ["tfgen", "naive"], "Run one variant (the child processes).")


def batches(side):
    """Seeded feature batches; the generated side is shifted and scaled."""
    rng = np.random.default_rng(side)
    mixing = rng.standard_normal((FLAGS.dim, FLAGS.dim)).astype(np.float32) / np.sqrt(FLAGS.dim)
    for _ in range(0, FLAGS.samples, FLAGS.batch):
        features = rng.standard_normal((FLAGS.batch, FLAGS.dim)).astype(np.float32) @ mixing
        yield features + 0.1 * side


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_tfgen():
    import tfgen.metrics

    metric = tfgen.metrics.FrechetDistance(feature_dim=FLAGS.dim)
    baseline, seconds = peak_rss_mib(), 0.0
    for real, generated in zip(batches(0), batches(1)):
        start = time.perf_counter()
        metric.update_state(real, generated)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    value = float(metric.result())
    return value, seconds + time.perf_counter() - start, baseline


def run_naive():
    import scipy.linalg

    baseline, seconds, kept = peak_rss_mib(), 0.0, {0: [], 1: []}
    for real, generated in zip(batches(0), batches(1)):
        start = time.perf_counter()
        kept[0].append(real)
        kept[1].append(generated)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    real, generated = np.concatenate(kept[0]), np.concatenate(kept[1])
    mu1, mu2 = real.mean(0, dtype=np.float64), generated.mean(0, dtype=np.float64)
    sigma1, sigma2 = np.cov(real, rowvar=False), np.cov(generated, rowvar=False)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
    return value, seconds + time.perf_counter() - start, baseline


def main(_):
    if FLAGS.variant:
        value, seconds, baseline = (run_tfgen if FLAGS.variant == "tfgen" else run_naive)()
        print(json.dumps(dict(fid=value, seconds=seconds, memory=peak_rss_mib() - baseline)))
        return
    results = {}
    for variant in ("tfgen", "naive"):
        command = [sys.executable, __file__, f"--variant={variant}"]
        command += [f"--samples={FLAGS.samples}", f"--dim={FLAGS.dim}", f"--batch={FLAGS.batch}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[variant] = json.loads(output.strip().splitlines()[-1])
    tfgen_result, naive = results["tfgen"], results["naive"]
    print(f"{FLAGS.samples} + {FLAGS.samples} features of {FLAGS.dim} dimensions")
    for name, result in (("tfgen FrechetDistance", tfgen_result), ("naive numpy/scipy", naive)):
        print(
            f"{name:22s} FID {result['fid']:.6f}   {result['seconds']:.2f} s   "
            f"peak memory +{result['memory']:.0f} MiB"
        )
    print(
        f"relative difference {abs(tfgen_result['fid'] - naive['fid']) / naive['fid']:.1e}   "
        f"time ratio {naive['seconds'] / tfgen_result['seconds']:.2f}x   memory ratio "
        f"{naive['memory'] / max(tfgen_result['memory'], 1):.2f}x"
    )


if __name__ == "__main__":
    app.run(main)
