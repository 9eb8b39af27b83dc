"""`jit_compile="auto"`: XLA or TensorFlow's kernels, whichever trains faster here, measured.

Which is faster depends on the machine and the model: for the DCGAN step of
benchmarks/gan_throughput.py, XLA was 1.5x faster than TensorFlow's kernels on one 2-core CPU
and 1.5x slower on another. So "auto" times the model's own training steps at the start of its
first `fit`: one step without XLA (tracing) and one with it (compiling), untimed, then
`MEASURED_STEPS` timed steps of each variant, alternating, so that a change of the machine's
load or a warming cache during the measurement falls on both alike; it keeps the variant whose
median step time is lower (`choose`, a pure function of the timings). Every measured step is a
real training step on the real batches: nothing is repeated or thrown away. The choice is
printed, kept in `model.jit_decision`, and holds for later `fit` calls. A `fit` too short to
time both variants (fewer than `2 * MEASURED_STEPS + 2` steps) trains without XLA and leaves
the choice to a later one.

Consequences: the two variants draw the same stateless random numbers but round differently,
so a run's trajectory depends on the choice, which depends on timings; for reproducible runs
pass `jit_compile=True` or `False` (tfgen's `--deterministic` runs pin False). Under XLA the
in-step check of batch values is compiled away, as with `jit_compile=True`. Under a
`tf.distribute` strategy, with `run_eagerly`, or with `steps_per_execution` > 1, Keras' own
"auto" applies (off on CPUs and under a strategy, on for a single GPU).
"""

import time
import types

import keras
import numpy as np
import tensorflow as tf

#: Timed training steps of each variant (after its tracing or compiling step). With five,
#: one variant after the other, a 2-core CPU once timed 23.2 ms with XLA and 23.1 ms without
#: for steps that run 17.4 and 20.3 ms once warm, and kept the slower variant
#: (benchmarks/gan_throughput.py): the first steps after compiling run slower.
MEASURED_STEPS = 8


def choose(seconds_without, seconds_with):
    """True (use XLA) when XLA's median step time is lower; a tie keeps TensorFlow's kernels."""
    for name, times in (("seconds_without", seconds_without), ("seconds_with", seconds_with)):
        if len(times) == 0 or not all(np.isfinite(times)) or min(times) < 0:
            raise ValueError(f"{name} must be non-empty, finite and >= 0, got {times!r}")
    return float(np.median(seconds_with)) < float(np.median(seconds_without))


def measurable(model):
    """Whether `model`'s "auto" is decided by measurement (see the module docstring)."""
    return (
        not model.run_eagerly
        and not tf.distribute.has_strategy()
        and model.distribute_strategy is tf.distribute.get_strategy()
        and getattr(model, "steps_per_execution", 1) == 1
    )


class JitChooser(keras.callbacks.Callback):
    """Times the first training steps without and with XLA, alternating, and keeps the faster.

    The fit loop calls `model.train_function` anew at every step, so replacing it between two
    steps switches the variant. Step `s` of the measurement runs XLA when `s` is odd: step 0
    traces the function without XLA, step 1 compiles the one with it, steps 2 to
    `2 * measured_steps + 1` are timed.
    """

    def __init__(self, measured_steps=MEASURED_STEPS, verbose=True):
        super().__init__()
        self.measured_steps = measured_steps
        self.verbose = verbose
        self.timings = {False: [], True: []}
        self._steps = 0
        self._functions = {}
        self._started = None
        self._active = False

    @property
    def _variant(self):
        return bool(self._steps % 2)

    @property
    def _measuring(self):
        return self._active and self.model.jit_decision is None

    def on_train_begin(self, logs=None):
        self._functions[False] = self.model.train_function
        # A fit too short to time both variants keeps TensorFlow's kernels and stays undecided
        # (no XLA compilation for a few steps); a later, longer fit decides.
        steps, epochs = self.params.get("steps"), self.params.get("epochs") or 1
        self._active = steps is None or steps * epochs >= 2 * self.measured_steps + 2

    def on_train_batch_begin(self, batch, logs=None):
        if self._measuring:
            xla = self._variant
            if xla not in self._functions:  # step 1: XLA's function, compiled by this step
                self.model.jit_compile = True
                self.model.make_train_function(force=True)
                self._functions[True] = self.model.train_function
            self._use(xla)
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not self._measuring:
            return
        if logs:  # The step ran asynchronously; wait for its results before stopping the clock.
            keras.ops.convert_to_numpy(next(iter(logs.values())))
        elapsed = time.perf_counter() - self._started
        if self._steps >= 2:  # steps 0 and 1 trace and compile
            self.timings[self._variant].append(elapsed)
        self._steps += 1
        if self._steps == 2 * self.measured_steps + 2:
            self._decide()

    def on_train_end(self, logs=None):
        if self._measuring:
            # Training ended before the choice: back to TensorFlow's kernels, undecided.
            self._use(False)

    def _use(self, xla):
        self.model.jit_compile = xla
        self.model.train_function = self._functions[xla]

    def _decide(self):
        xla = choose(self.timings[False], self.timings[True])
        self._use(xla)
        without, with_xla = (1e3 * float(np.median(self.timings[v])) for v in (False, True))
        # A read-only mapping: Keras would track (and try to save) a plain dict attribute.
        self.model.jit_decision = types.MappingProxyType(
            dict(jit_compile=xla, ms_per_step_without=without, ms_per_step_with=with_xla)
        )
        if self.verbose:
            print(
                f"jit_compile='auto': {with_xla:.1f} ms/step with XLA, {without:.1f} without "
                f"(medians of {self.measured_steps} alternating steps each); using "
                f"{'XLA' if xla else 'TensorFlow kernels'}.",
                flush=True,
            )
