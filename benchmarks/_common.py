"""What the benchmarks share: quiet TensorFlow, the absl entry point, timing, tables, loaders.

A benchmark imports it before TensorFlow (`import _common` sorts first among the third-party
imports), defines its options with absl flags and ends with `_common.run(main)`:

    import _common
    from absl import flags

    FLAGS = flags.FLAGS
    flags.DEFINE_integer("steps", 100, "Timed steps.")

    def main(argv):
        del argv
        seconds, value = _common.best_seconds(lambda: work(FLAGS.steps), repeats=3)
        _common.print_table(["work", "ms"], [["work", f"{1e3 * seconds:.1f}"]])

    if __name__ == "__main__":
        _common.run(main)

Importing it imports tfgen, which imports TensorFlow with its import-time lines silenced
(`tfgen._quiet_import`), before the benchmark's own `import keras`. benchmarks/metrics.py, whose
child processes measure their own memory above what they imported, stays off it.
tests/test_benchmarks.py calls `main` of each benchmark on tiny flags.
"""

import os

# Before TensorFlow's first import: its C++ start-up lines would bury the results.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import tfgen  # noqa: E402, F401  (TensorFlow imported with its start-up lines silenced)


def run(main):
    """Parses the absl flags of the command line and calls `main(argv)`."""
    app.run(main)


def define_warmup_flag(default=30):
    """`--warmup`: untimed training steps of each model before timing starts.

    Enough for tracing, XLA compilation and `jit_compile="auto"`'s choice at the default; the
    smoke test lowers it.
    """
    flags.DEFINE_integer(
        "warmup", default, "Untimed training steps of each model before its timed ones."
    )


def timed(function):
    """(seconds of wall clock, value) of one call of `function()`."""
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def best_seconds(function, repeats):
    """(fewest seconds of `repeats` calls of `function()`, the last call's value).

    The best call, not the mean: on a shared machine other work only ever slows a call down.
    """
    times, value = [], None
    for _ in range(repeats):
        seconds, value = timed(function)
        times.append(seconds)
    return min(times), value


def device():
    """The kind of the last logical device TensorFlow sees (CPU or GPU), for a table's title."""
    import tensorflow as tf  # noqa: PLC0415

    return tf.config.list_logical_devices()[-1].device_type


def print_table(header, rows):
    """Prints a Markdown table (as BENCHMARKS.md holds them) of string cells."""
    for cells in (header, ["---"] * len(header), *rows):
        print("| " + " | ".join(str(cell) for cell in cells) + " |")


def frechet_distance(a, b):
    """Fréchet distance between Gaussians fitted to the rows of `a` and of `b`.

    d² = |mu_a - mu_b|² + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Heusel et al. 2017), the square
    root by `scipy.linalg.sqrtm` (its real part), as the reference implementation (TTUR's
    fid.py) takes it; independent of `tfgen.metrics`.
    """
    import scipy.linalg  # noqa: PLC0415

    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2.0 * root))


def digits(split, image_size):
    """All digits of `split` ("train" or "test") at `image_size`, in [-1, 1], in order."""
    import tfgen.data  # noqa: PLC0415

    batches = tfgen.data.load(
        "digits",
        split=split,
        image_size=image_size,
        batch_size=500,
        shuffle=False,
        drop_remainder=False,
    )
    return np.concatenate([np.asarray(batch) for batch in batches])


def scores(reference, images, extractor=None):
    """{fid, kid, kid_std, precision, recall} of `images` against `reference` (both [-1, 1]).

    `tfgen.metrics.default_metrics` in the shipped digits classifier's features (or
    `extractor`'s).
    """
    import tfgen.metrics  # noqa: PLC0415

    results = {}
    for metric in tfgen.metrics.default_metrics(extractor):
        metric.update_state(reference, images)
        results.update(tfgen.metrics.evaluation.results(metric))
    return results


def photo_crops(split):
    """One pass of 32x32 RGB crops of the bundled photographs' `split`, in [-1, 1], in order.

    The test split is the 154 tiles of the held-out photographs; the train split one epoch of
    random crops of the training photographs (`tfgen.data.photos`).
    """
    import tfgen.data  # noqa: PLC0415

    data = tfgen.data.load(
        "photos",
        split=split,
        image_size=32,
        channels=3,
        batch_size=240,
        shuffle=False,
        drop_remainder=False,
    )
    return np.concatenate([np.asarray(batch) for batch in data])


def sliced_wasserstein(real, generated):
    """`tfgen.metrics.SlicedWasserstein` (seed 0) of two image sets in [-1, 1]."""
    from tfgen import metrics  # noqa: PLC0415

    metric = metrics.SlicedWasserstein(seed=0)
    metric.update_state(real, generated)
    return float(metric.result())
