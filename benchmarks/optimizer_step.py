"""Times one `apply_gradients` step of tfgen's optimizers against the Keras built-ins.

Three model shapes, all float32:

- `large`: 10.2M parameters in 48 variables of 460x460 (memory-bound: the arithmetic dominates);
- `matrices`: 5.0M parameters in 500 variables of 100x100;
- `convolutions`: 7.4M parameters in 600 variables (200 kernels 3x3x64x64, 400 vectors of 64),
  the layout of a convolutional network with biases and normalisation.

Three implementations: tfgen (small variables in flat groups, `tfgen/optimizers/_flat.py`),
tfgen with one fused kernel per variable (the groups switched off), and Keras' built-in. Two
ways of running a step: `loop`, `--steps` steps in a `tf.range` loop inside one `tf.function`,
and `call`, one `tf.function` call per step, as `model.fit` runs a training step (every call
passes the function all the variables it uses, so the number of optimizer variables counts).
Everything is timed in interleaved rounds (the machine is shared, so the best round counts),
and the script checks that all implementations reach the same weights. Prints milliseconds per
step, nanoseconds per parameter, the speed-up over Keras and the cost per parameter relative to
tfgen's own on the `large` shape, from the wall clock and from the process's CPU time.

`--floor` times the least any optimizer must do, adding each gradient to its variable (one write
per variable), beside tfgen's Adam, per shape. `--threshold` times grouped against per-variable
updates for variables of one size at a time (2.5M parameters or 1,000 variables each), which
chose the limits in `tfgen.optimizers._flat.FLAT_MAX_SIZE`.

    python benchmarks/optimizer_step.py [--steps 20] [--repeats 5] [--modes loop,call]
    python benchmarks/optimizer_step.py --threshold
    python benchmarks/optimizer_step.py --floor
"""

import time

import _common
import keras
import numpy as np
import tensorflow as tf
from absl import flags

from tfgen.optimizers import Adam, Nesterov, _flat

SHAPES = {
    "large": [(460, 460)] * 48,
    "matrices": [(100, 100)] * 500,
    "convolutions": [(3, 3, 64, 64)] * 200 + [(64,)] * 400,
}
LARGE_SIZE = sum(int(np.prod(s)) for s in SHAPES["large"])
OPTIMIZERS = {
    "adam": (Adam, lambda lr: keras.optimizers.Adam(lr)),
    "nesterov": (
        lambda lr: Nesterov(lr, momentum=0.9),
        lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    ),
}
IMPLEMENTATIONS = ("tfgen", "tfgen_per_variable", "keras")
THRESHOLD_SIZES = (64, 1024, 10_000, 16_384, 36_864, 65_536, 211_600)

FLAGS = flags.FLAGS
flags.DEFINE_list("shapes", list(SHAPES), f"Model shapes to time, among {list(SHAPES)}.")
flags.DEFINE_list("optimizers", list(OPTIMIZERS), f"Optimizers, among {list(OPTIMIZERS)}.")
flags.DEFINE_integer("steps", 20, "Steps per timed round.")
flags.DEFINE_integer("repeats", 5, "Interleaved timed rounds; the best is reported.")
flags.DEFINE_float("learning_rate", 1e-3, "Learning rate of every optimizer.")
flags.DEFINE_list("modes", ["loop", "call"], "How steps run: 'loop' and/or 'call'.")
flags.DEFINE_bool("threshold", False, "Time grouped against per-variable updates by size.")
flags.DEFINE_bool("floor", False, "Time adding each gradient to its variable, no optimizer.")


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


def make_optimizer(name, implementation, learning_rate):
    ours, theirs = OPTIMIZERS[name]
    return (theirs if implementation == "keras" else ours)(learning_rate)


class Timed:
    """One optimizer on one problem, compiled once, timed round after round."""

    def __init__(self, optimizer, initial, gradients, mode, grouped=True):
        self.variables = [keras.Variable(w) for w in initial]
        limits = _flat.FLAT_MAX_SIZE
        _flat.FLAT_MAX_SIZE = limits if grouped else dict.fromkeys(limits, 0)
        try:
            optimizer.build(self.variables)
        finally:
            _flat.FLAT_MAX_SIZE = limits
        self.best = self.best_cpu = float("inf")

        if mode == "loop":

            @tf.function
            def run(n):
                for _ in tf.range(n):
                    optimizer.apply_gradients(zip(gradients, self.variables))

            self.run = lambda steps: run(tf.constant(steps))
        else:
            step = tf.function(lambda: optimizer.apply_gradients(zip(gradients, self.variables)))

            def run_calls(steps):
                for _ in range(steps):
                    step()

            self.run = run_calls
        self.run(2)  # trace and warm up

    def time(self, steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        self.run(steps)
        _ = self.variables[0].numpy()  # wait for the work to finish
        self.best = min(self.best, (time.perf_counter() - start) / steps)
        self.best_cpu = min(self.best_cpu, (time.process_time() - start_cpu) / steps)

    def weights(self):
        return [v.numpy() for v in self.variables]


def time_interleaved(timed, steps, repeats):
    for _ in range(repeats):
        for one in timed:
            one.time(steps)


class AddGradient:
    """Not an optimizer: `w = w + g`, the one write per variable every optimizer makes."""

    def build(self, variables):
        pass

    def apply_gradients(self, pairs):
        for gradient, variable in pairs:
            variable.assign_add(gradient)


def floor():
    """Per parameter, the cost of one write per variable against tfgen's Adam, per shape."""
    print(f"call mode, {FLAGS.steps} steps per round, best of {FLAGS.repeats}; CPU time per step")
    print(f"{'shape':12s} {'vars':>4s} | {'w += g':>14s} | {'tfgen adam':>14s}")
    for shape in FLAGS.shapes:
        initial, gradients = make_problem(SHAPES[shape])
        pair = [
            Timed(AddGradient(), initial, gradients, "call"),
            Timed(Adam(FLAGS.learning_rate), initial, gradients, "call"),
        ]
        time_interleaved(pair, FLAGS.steps, FLAGS.repeats)
        total = sum(w.size for w in initial)
        write, adam = (t.best_cpu for t in pair)
        print(
            f"{shape:12s} {len(initial):4d} | {write * 1e3:5.2f} ms "
            f"{write / total * 1e9:4.2f} ns | {adam * 1e3:5.2f} ms {adam / total * 1e9:4.2f} ns"
        )


def threshold():
    """Grouped against per-variable updates, in variables of one size: 2.5M parameters, or 1,000
    variables where that would take more."""
    print(f"call mode, {FLAGS.steps} steps per round, best of {FLAGS.repeats}; CPU time per step")
    print(f"{'size':>8s} {'vars':>5s} {'optimizer':9s} | {'grouped':>9s} {'per var':>9s} | ratio")
    for size in THRESHOLD_SIZES:
        initial, gradients = make_problem([(size,)] * min(1000, max(2, 2_500_000 // size)))
        for name in FLAGS.optimizers:
            pair = [
                Timed(
                    make_optimizer(name, "tfgen", FLAGS.learning_rate),
                    initial,
                    gradients,
                    "call",
                    grouped,
                )
                for grouped in (True, False)
            ]
            time_interleaved(pair, FLAGS.steps, FLAGS.repeats)
            grouped, alone = (t.best_cpu * 1e3 for t in pair)
            print(
                f"{size:8d} {len(initial):5d} {name:9s} | {grouped:6.2f} ms {alone:6.2f} ms | "
                f"{alone / grouped:5.2f}x"
            )


def main(_):
    if FLAGS.threshold:
        return threshold()
    if FLAGS.floor:
        return floor()
    print(
        f"{FLAGS.steps} steps per round, best of {FLAGS.repeats} interleaved rounds, "
        f"on {_common.device()}"
    )
    problems = {name: make_problem(SHAPES[name]) for name in FLAGS.shapes}
    runs = {}
    for mode in FLAGS.modes:
        for shape, (initial, gradients) in problems.items():
            for name in FLAGS.optimizers:
                runs[mode, shape, name] = {
                    implementation: Timed(
                        make_optimizer(name, implementation, FLAGS.learning_rate),
                        initial,
                        gradients,
                        mode,
                        grouped=implementation == "tfgen",
                    )
                    for implementation in IMPLEMENTATIONS
                }
    time_interleaved([t for r in runs.values() for t in r.values()], FLAGS.steps, FLAGS.repeats)

    for clock in ("best", "best_cpu"):
        print(f"\n{'wall clock' if clock == 'best' else 'CPU time'} per step")
        print(
            f"{'mode':4s} {'shape':12s} {'optimizer':9s} {'params':>6s} {'vars':>4s} | "
            f"{'tfgen':>8s} {'ns/param':>8s} {'vs large':>8s} | {'per var':>8s} | "
            f"{'keras':>9s} | vs keras | vs per var | diff"
        )
        for (mode, shape, name), timed in runs.items():
            ours, alone, theirs = (getattr(timed[i], clock) for i in IMPLEMENTATIONS)
            total = sum(w.size for w in problems[shape][0])
            count = len(problems[shape][0])
            difference = max(
                float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30))
                for other in ("tfgen_per_variable", "keras")
                for a, b in zip(timed["tfgen"].weights(), timed[other].weights(), strict=True)
            )
            rate = ours / total
            large = runs.get((mode, "large", name))
            relative = (
                f"{rate / (getattr(large['tfgen'], clock) / LARGE_SIZE):7.2f}x"
                if large
                else "       -"
            )
            print(
                f"{mode:4s} {shape:12s} {name:9s} {total / 1e6:5.1f}M {count:4d} | "
                f"{ours * 1e3:5.2f} ms {rate * 1e9:8.2f} {relative} | {alone * 1e3:5.2f} ms | "
                f"{theirs * 1e3:6.2f} ms | {theirs / ours:7.2f}x | {alone / ours:9.2f}x | "
                f"{difference:.0e}"
            )


if __name__ == "__main__":
    _common.run(main)
