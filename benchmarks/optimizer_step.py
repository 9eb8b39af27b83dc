"""Times one `apply_gradients` step of tfgen's optimizers against the Keras built-ins.

Three model shapes, all float32:

- `large`: 10.2M parameters in 48 variables of 460x460 (memory-bound: the arithmetic dominates);
- `matrices`: 5.0M parameters in 500 variables of 100x100;
- `convolutions`: 7.4M parameters in 600 variables (200 kernels 3x3x64x64 and 400 vectors of 64),
  the layout of a convolutional network with biases and normalisation.

Each optimizer runs the same gradients for `--steps` steps inside one `tf.function`; the
optimizers and shapes are timed in interleaved rounds (the machine is shared, so the best round
counts) and the script checks that tfgen and Keras reach the same weights. Prints milliseconds
per step, nanoseconds per parameter, the speed-up over Keras, and the cost per parameter relative
to tfgen's own on the `large` shape; then the same from the process's CPU time, which other
work on a shared machine disturbs less than the wall clock.

    python benchmarks/optimizer_step.py [--steps 20] [--repeats 5] [--shapes large,matrices,...]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from tfgen.optimizers import Adam, Nesterov  # noqa: E402

SHAPES = {
    "large": [(460, 460)] * 48,
    "matrices": [(100, 100)] * 500,
    "convolutions": [(3, 3, 64, 64)] * 200 + [(64,)] * 400,
}
LARGE_SIZE = sum(int(np.prod(s)) for s in SHAPES["large"])
OPTIMIZERS = {
    "adam": lambda lr: (Adam(lr), keras.optimizers.Adam(lr)),
    "nesterov": lambda lr: (
        Nesterov(lr, momentum=0.9),
        keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    ),
}

FLAGS = flags.FLAGS
flags.DEFINE_list("shapes", list(SHAPES), f"Model shapes to time, among {list(SHAPES)}.")
flags.DEFINE_list("optimizers", list(OPTIMIZERS), f"Optimizers, among {list(OPTIMIZERS)}.")
flags.DEFINE_integer("steps", 20, "Steps per timed round.")
flags.DEFINE_integer("repeats", 5, "Interleaved timed rounds; the best is reported.")
flags.DEFINE_float("learning_rate", 1e-3, "Learning rate of every optimizer.")


def make_problem(shapes, seed=0):
    rng = np.random.default_rng(seed)
    # Interleave the kinds of variables as a model's layers do (kernel, bias, kernel, ...).
    if len(set(shapes)) > 1:
        kernels = [s for s in shapes if len(s) > 1]
        vectors = [s for s in shapes if len(s) == 1]
        per_kernel = len(vectors) // max(len(kernels), 1)
        shapes = []
        for k in kernels:
            shapes += [k] + [vectors.pop() for _ in range(per_kernel) if vectors]
        shapes += vectors
    initial = [rng.standard_normal(s).astype("float32") for s in shapes]
    gradients = [tf.constant(rng.standard_normal(s).astype("float32") * 1e-2) for s in shapes]
    return initial, gradients


class Timed:
    """One optimizer on one problem, compiled once, timed round after round."""

    def __init__(self, optimizer, initial, gradients):
        self.variables = [keras.Variable(w) for w in initial]
        optimizer.build(self.variables)
        self.best = self.best_cpu = float("inf")

        @tf.function
        def run(n):
            for _ in tf.range(n):
                optimizer.apply_gradients(zip(gradients, self.variables))

        self.run = run
        run(tf.constant(2))  # trace and warm up

    def time(self, steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        self.run(tf.constant(steps))
        _ = self.variables[0].numpy()  # wait for the work to finish
        self.best = min(self.best, (time.perf_counter() - start) / steps)
        self.best_cpu = min(self.best_cpu, (time.process_time() - start_cpu) / steps)

    def weights(self):
        return [v.numpy() for v in self.variables]


def main(_):
    device = tf.config.list_logical_devices()[-1].device_type
    print(f"{FLAGS.steps} steps per round, best of {FLAGS.repeats} interleaved rounds, on {device}")
    problems = {name: make_problem(SHAPES[name]) for name in FLAGS.shapes}
    runs = {}
    for shape, (initial, gradients) in problems.items():
        for name in FLAGS.optimizers:
            ours, theirs = OPTIMIZERS[name](FLAGS.learning_rate)
            runs[shape, name] = (Timed(ours, initial, gradients), Timed(theirs, initial, gradients))
    for _ in range(FLAGS.repeats):
        for pair in runs.values():
            for timed in pair:
                timed.time(FLAGS.steps)

    for clock in ("best", "best_cpu"):
        print(f"\n{'wall clock' if clock == 'best' else 'CPU time'} per step")
        print(
            f"{'shape':13s} {'optimizer':9s} {'params':>6s} {'vars':>4s} | {'tfgen':>8s} "
            f"{'ns/param':>8s} {'vs large':>8s} | {'keras':>9s} {'ns/param':>8s} | speed-up | diff"
        )
        for (shape, name), (ours, theirs) in runs.items():
            ours_time, theirs_time = getattr(ours, clock), getattr(theirs, clock)
            total = sum(w.size for w in problems[shape][0])
            count = len(problems[shape][0])
            difference = max(
                float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30))
                for a, b in zip(ours.weights(), theirs.weights(), strict=True)
            )
            rate = ours_time / total
            large = runs.get(("large", name))
            relative = (
                f"{rate / (getattr(large[0], clock) / LARGE_SIZE):7.2f}x" if large else "       -"
            )
            print(
                f"{shape:13s} {name:9s} {total / 1e6:5.1f}M {count:4d} | "
                f"{ours_time * 1e3:5.2f} ms {rate * 1e9:8.2f} {relative} | "
                f"{theirs_time * 1e3:6.2f} ms {theirs_time / total * 1e9:8.2f} | "
                f"{theirs_time / ours_time:7.2f}x | {difference:.0e}"
            )


if __name__ == "__main__":
    app.run(main)
