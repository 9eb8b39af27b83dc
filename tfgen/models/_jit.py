"""`jit_compile="auto"`: XLA or TensorFlow's kernels, whichever trains faster here, measured.

Which is faster depends on the machine and the model: for the DCGAN step of
benchmarks/gan_throughput.py, XLA was 1.5x faster than TensorFlow's kernels on one 2-core CPU
and 1.5x slower on another. So "auto" times the model's own training steps at the start of its
first `fit`: `MEASURED_STEPS` steps without XLA, then as many with it (each variant's first,
compiling, step is not timed), and keeps the variant whose median step time is lower
(`choose`, a pure function of the timings). Every measured step is a real training step on
the real batches: nothing is repeated or thrown away. The choice is printed, kept in
`model.jit_decision`, and holds for later `fit` calls. A `fit` too short to time both
variants (fewer than `2 * MEASURED_STEPS + 2` steps) trains without XLA and leaves the choice
to a later one.

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

#: Timed training steps of each variant (after its compiling step).
MEASURED_STEPS = 5


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
    """Times the first training steps without and with XLA and keeps the faster function.

    The fit loop calls `model.train_function` anew at every step, so replacing it between two
    steps switches the variant; the function without XLA is kept and put back if it wins.
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
        return self._steps > self.measured_steps

    def on_train_begin(self, logs=None):
        self._functions[False] = self.model.train_function
        # A fit too short to time both variants keeps TensorFlow's kernels and stays undecided
        # (no XLA compilation for a few steps); a later, longer fit decides.
        steps, epochs = self.params.get("steps"), self.params.get("epochs") or 1
        self._active = steps is None or steps * epochs >= 2 * self.measured_steps + 2

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not self._active or self.model.jit_decision is not None:
            return
        if logs:  # The step ran asynchronously; wait for its results before stopping the clock.
            keras.ops.convert_to_numpy(next(iter(logs.values())))
        elapsed = time.perf_counter() - self._started
        variant = self._variant
        first_of_variant = self._steps in (0, self.measured_steps + 1)
        if not first_of_variant:
            self.timings[variant].append(elapsed)
        self._steps += 1
        if self._steps == self.measured_steps + 1:  # switch to XLA for the next steps
            self.model.jit_compile = True
            self.model.make_train_function(force=True)
        elif self._steps == 2 * self.measured_steps + 2:
            self._decide()

    def on_train_end(self, logs=None):
        if self._active and self.model.jit_decision is None and self._variant:
            # Training ended while XLA was measured: back to TensorFlow's kernels, undecided.
            self._use(False)

    def _use(self, xla):
        self.model.jit_compile = xla
        if not xla:
            self.model.train_function = self._functions[False]

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
                f"(medians of {self.measured_steps} steps); using "
                f"{'XLA' if xla else 'TensorFlow kernels'}.",
                flush=True,
            )
