"""`jit_compile="auto"`: XLA or TensorFlow's kernels, whichever trains faster here, measured.

Which is faster depends on the machine and the model: for the same DCGAN step of
benchmarks/gan_throughput.py, XLA has been measured faster than TensorFlow's kernels on one CPU
and slower on another (BENCHMARKS.md). So "auto" times the model's own training steps at the
start of its first `fit`, alternating the two variants step by step: one step without XLA
(tracing) and one with it (compiling), then `WARMUP_STEPS` untimed steps of each, then
`MEASURED_STEPS` timed steps of each, so that a change of the machine's load or a warming cache
during the measurement falls on both alike; it keeps the variant whose typical fast step
(`typical_seconds`: the lower quartile of its timed steps) is shorter (`choose`, a pure function
of the timings). Every measured step is a real training step on the real batches: nothing is
repeated or thrown away. The choice is printed, kept in `model.jit_decision`, and holds for
later `fit` calls. A `fit` too short to time both variants (fewer than `STEPS_TO_DECIDE` steps)
trains without XLA and leaves the choice to a later one.

Not every step compiles: XLA has no kernel for some TensorFlow ops (the antialiased resize,
`ScaleAndTranslate`, for one). XLA compiles the step at its first call, before running it, so
that call is guarded: when it fails, the same batch trains with TensorFlow's kernels, which
the run keeps; one line says so, and `model.jit_decision` holds XLA's error. (A step that also
fails with TensorFlow's kernels raises that error, as without "auto".)

Consequences: the two variants draw the same stateless random numbers but round differently,
so a run's trajectory depends on the choice, which depends on timings; for reproducible runs
pass `jit_compile=True` or `False` (tfgen's `--deterministic` runs pin False). Under XLA the
in-step check of batch values is compiled away, as with `jit_compile=True`. With
`run_eagerly` or `steps_per_execution` > 1, Keras' own "auto" applies (off on CPUs, on for a
single GPU).

Under a `tf.distribute` strategy XLA cannot compile the whole replicated step (Keras compiles
all of `strategy.run`, whose variables live on every replica's device, and XLA has no CPU
kernel for the all-gather of a multi-worker step). The GAN and the Autoencoder compile the
parts of each replica's step between its collectives and optimizer updates instead
(`ImageModel._compiled`), so "auto" measures them there too: the same alternation, with each
worker's typical times averaged over all workers before the choice (`agreed_seconds`), so
that every replica and worker runs the same variant. The parts compile one after the other
as the first XLA step reaches them, so a failing one may come after another updated weights:
a snapshot of the model's, its metrics' and optimizers' variables, taken before that step,
is restored before the batch trains again with TensorFlow's kernels. A model without
per-replica parts keeps Keras' "auto" under a strategy: no XLA on CPUs.
"""

import time
import types

import keras
import numpy as np
import tensorflow as tf

from tfgen import distribute

# The clock of the measurement (a name of its own, so that a test can replace it alone).
_clock = time.perf_counter

#: Timed training steps of each variant (after its tracing or compiling step). With five,
#: one variant after the other, a 2-core CPU once timed 23.2 ms with XLA and 23.1 ms without
#: for steps that run 17.4 and 20.3 ms once warm, and kept the slower variant
#: (benchmarks/gan_throughput.py): the first steps after compiling run slower.
MEASURED_STEPS = 8
#: Untimed steps of each variant after its tracing or compiling step, as the first runs of a
#: freshly built function may still allocate and warm caches.
WARMUP_STEPS = 2
#: Training steps from the start of the first `fit` to the choice.
STEPS_TO_DECIDE = 2 * (1 + WARMUP_STEPS + MEASURED_STEPS)


def typical_seconds(times):
    """The lower quartile of step times: what a step takes when the machine lets it run.

    A shared machine only ever slows steps down, and on this project's 2-core VM it slows them
    for stretches of several steps, which may hit one variant harder (XLA steps went from 14.5
    to 24-25 ms in the middle of a measurement, TensorFlow's from 17 to 20): a median of 8 steps
    then reads the stretch, not the variant. The lower quartile ignores both the stretch and a
    single hiccup.
    """
    return float(np.percentile(times, 25))


def choose(seconds_without, seconds_with):
    """True (use XLA) when XLA's typical step is shorter; a tie keeps TensorFlow's kernels."""
    for name, times in (("seconds_without", seconds_without), ("seconds_with", seconds_with)):
        if len(times) == 0 or not all(np.isfinite(times)) or min(times) < 0:
            raise ValueError(f"{name} must be non-empty, finite and >= 0, got {times!r}")
    return typical_seconds(seconds_with) < typical_seconds(seconds_without)


def measurable(model):
    """Whether `model`'s "auto" is decided by measurement (see the module docstring)."""
    strategy = model.distribute_strategy
    if distribute.is_replicated(strategy):
        # Fit inside the model's own scope or outside any; parts compiled per replica.
        in_scope = not tf.distribute.has_strategy() or tf.distribute.get_strategy() is strategy
        if not (in_scope and model._per_replica_xla_supported):
            return False
    elif tf.distribute.has_strategy():
        return False
    return not model.run_eagerly and getattr(model, "steps_per_execution", 1) == 1


def agreed_seconds(strategy, seconds):
    """`seconds` averaged over all workers of `strategy`, so that every worker decides alike.

    Each worker of a `MultiWorkerMirroredStrategy` times its own steps; their typical times
    are all-reduced (a mean over replicas: the workers' own values weighted by their replicas)
    before the choice. One process' replicas share one measurement anyway.
    """
    if not distribute.is_replicated(strategy):
        return list(seconds)
    values = tf.constant(seconds, tf.float64)

    @tf.function
    def mean():
        per_replica = strategy.run(lambda: tf.identity(values))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

    return [float(value) for value in np.asarray(mean())]


class _Snapshot:
    """The values of a model's variables, its metrics' and its optimizers', to be restored."""

    def __init__(self, model):
        optimizers = [v for v in vars(model).values() if isinstance(v, keras.optimizers.Optimizer)]
        self.variables = list(model.weights) + list(model.metrics_variables)
        for optimizer in optimizers:
            self.variables += list(optimizer.variables)
        self.values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in self.variables]

    def restore(self):
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)


class JitChooser(keras.callbacks.Callback):
    """Times the first training steps without and with XLA, alternating, and keeps the faster.

    The fit loop calls `model.train_function` anew at every step, so replacing it between two
    steps switches the variant. Step `s` of the measurement runs XLA when `s` is odd: step 0
    traces the function without XLA, step 1 compiles the one with it, the next
    `2 * warmup_steps` warm both up, and the `2 * measured_steps` after them are timed.
    """

    def __init__(self, measured_steps=MEASURED_STEPS, verbose=True, warmup_steps=WARMUP_STEPS):
        super().__init__()
        self.measured_steps = measured_steps
        self.untimed_steps = 2 * (1 + warmup_steps)
        self.steps_to_decide = self.untimed_steps + 2 * measured_steps
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
        self._active = steps is None or steps * epochs >= self.steps_to_decide

    def on_train_batch_begin(self, batch, logs=None):
        if self._measuring:
            xla = self._variant
            if xla not in self._functions:  # step 1: XLA's function, compiled by this step
                self.model.jit_compile = True
                self.model.make_train_function(force=True)
                self._functions[True] = self.model.train_function
                self.model.jit_compile = True
                self.model.train_function = self._compiling_step
            else:
                self._use(xla)
        self._started = _clock()

    def _compiling_step(self, iterator):
        """The first XLA step, guarded: if XLA cannot compile it, TensorFlow's kernels train the
        same batch (fetched here, so that neither variant's failure loses it).

        Keras' train functions take the batch from an iterator, or from a list of batches
        (`keras/src/backend/tensorflow/trainer.py`, `function`), which runs their step on it.
        """
        batch = next(iterator)
        # Under a strategy the step's parts compile one after the other as the step reaches
        # them (`ImageModel._compiled`), so one may fail after another has updated weights.
        replicated = distribute.is_replicated(self.model.distribute_strategy)
        snapshot = _Snapshot(self.model) if replicated else None
        try:
            return self._functions[True]([batch])
        except tf.errors.OpError as error:
            # Without a strategy XLA compiles the whole step before running any of it, so no
            # variable has changed; under one, the snapshot undoes what the parts did.
            if snapshot is not None:
                snapshot.restore()
            outputs = self._functions[False]([batch])
            self._fall_back(error)
            return outputs

    def on_train_batch_end(self, batch, logs=None):
        if not self._measuring:
            return
        if logs:  # The step ran asynchronously; wait for its results before stopping the clock.
            keras.ops.convert_to_numpy(next(iter(logs.values())))
        elapsed = _clock() - self._started
        if self._steps >= self.untimed_steps:  # trace, compile, warm up
            self.timings[self._variant].append(elapsed)
        self._steps += 1
        if self._steps == self.steps_to_decide:
            self._decide()

    def on_train_end(self, logs=None):
        if self._measuring:
            # Training ended before the choice: back to TensorFlow's kernels, undecided.
            self._use(False)

    def _fall_back(self, error):
        """Keeps TensorFlow's kernels for good after XLA failed to compile the step."""
        self._use(False)
        reason = " ".join(str(getattr(error, "message", error)).split())
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        self.model.jit_decision = types.MappingProxyType(
            dict(
                jit_compile=False,
                ms_per_step_without=None,
                ms_per_step_with=None,
                xla_error=reason,
            )
        )
        if self.verbose:
            print(
                f"jit_compile='auto': XLA cannot compile this model's training step "
                f"({type(error).__name__}: {reason[:160]}); using TensorFlow kernels.",
                flush=True,
            )

    def _use(self, xla):
        self.model.jit_compile = xla
        self.model.train_function = self._functions[xla]

    def _decide(self):
        typical = [typical_seconds(self.timings[v]) for v in (False, True)]
        without, with_xla = agreed_seconds(self.model.distribute_strategy, typical)
        xla = choose([without], [with_xla])
        self._use(xla)
        without, with_xla = 1e3 * without, 1e3 * with_xla
        # A read-only mapping: Keras would track (and try to save) a plain dict attribute.
        self.model.jit_decision = types.MappingProxyType(
            dict(
                jit_compile=xla,
                ms_per_step_without=without,
                ms_per_step_with=with_xla,
                xla_error=None,
            )
        )
        if self.verbose:
            print(
                f"jit_compile='auto': {with_xla:.1f} ms/step with XLA, {without:.1f} without "
                f"(lower quartiles of {self.measured_steps} alternating steps each); using "
                f"{'XLA' if xla else 'TensorFlow kernels'}.",
                flush=True,
            )
