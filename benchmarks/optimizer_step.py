"""Times one `apply_gradients` step of tfgen's optimizers against the Keras built-ins.

About 10M float32 parameters in 50 variables; each optimizer runs the same gradients inside a
`tf.function`, and the script checks that both reach the same weights. Prints milliseconds per
step, the speed-up and the effective memory bandwidth (bytes the update must read and write per
step / time).

    python benchmarks/optimizer_step.py [--parameters 10_000_000] [--variables 50] [--steps 50]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import tfgen  # noqa: E402, F401
from tfgen.optimizers import Adam, Nesterov  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("parameters", 10_000_000, "Total number of parameters.")
flags.DEFINE_integer("variables", 50, "Number of variables they are split into.")
flags.DEFINE_integer("steps", 50, "Timed steps per optimizer.")
flags.DEFINE_integer("repeats", 3, "Timed repetitions; the best is reported.")
flags.DEFINE_float("learning_rate", 1e-3, "Learning rate of every optimizer.")

# Float32 tensors each update reads and writes per parameter: Adam reads w, m, v, g and writes
# w, m, v; momentum reads w, v, g and writes w, v.
TRAFFIC = {"adam": 7, "nesterov": 5}


def make_problem(parameters, count, seed=0):
    rng = np.random.default_rng(seed)
    size = parameters // count
    shapes = [(size // 1000, 1000) if i % 2 else (size,) for i in range(count)]
    initial = [rng.standard_normal(s).astype("float32") for s in shapes]
    gradients = [tf.constant(rng.standard_normal(s).astype("float32") * 1e-2) for s in shapes]
    return initial, gradients


def time_optimizer(optimizer, initial, gradients, steps, repeats):
    variables = [keras.Variable(w) for w in initial]
    optimizer.build(variables)

    @tf.function
    def run(n):
        for _ in tf.range(n):
            optimizer.apply_gradients(zip(gradients, variables))

    run(tf.constant(2))  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(tf.constant(steps))
        _ = variables[0].numpy()  # wait for the work to finish
        best = min(best, (time.perf_counter() - start) / steps)
    return best, [v.numpy() for v in variables]


def main(_):
    initial, gradients = make_problem(FLAGS.parameters, FLAGS.variables)
    total = sum(w.size for w in initial)
    lr = FLAGS.learning_rate
    pairs = {
        "adam": (Adam(lr), keras.optimizers.Adam(lr)),
        "nesterov": (Nesterov(lr, momentum=0.9), keras.optimizers.SGD(lr, 0.9, nesterov=True)),
    }
    device = tf.config.list_logical_devices()[-1].device_type
    print(f"{total:,} parameters in {len(initial)} variables, {FLAGS.steps} steps, on {device}")
    for name, (ours, theirs) in pairs.items():
        t_ours, w_ours = time_optimizer(ours, initial, gradients, FLAGS.steps, FLAGS.repeats)
        t_keras, w_keras = time_optimizer(theirs, initial, gradients, FLAGS.steps, FLAGS.repeats)
        difference = max(
            float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30))
            for a, b in zip(w_ours, w_keras)
        )
        gigabytes = TRAFFIC[name] * 4 * total / 1e9
        print(
            f"{name:9s} tfgen {t_ours * 1e3:8.2f} ms ({gigabytes / t_ours:6.1f} GB/s)   "
            f"keras {t_keras * 1e3:8.2f} ms ({gigabytes / t_keras:6.1f} GB/s)   "
            f"speed-up {t_keras / t_ours:5.2f}x   max relative difference {difference:.1e}"
        )


if __name__ == "__main__":
    app.run(main)
