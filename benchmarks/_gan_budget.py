"""Equal wall clock on a shared machine: a seconds budget turned into a fixed step count per model.

Training each model "for 30 s" makes its result depend on what else runs on the machine. So
the models are first timed side by side: each is built and compiled once and runs `warmup`
steps (tracing, XLA compilation, `jit_compile="auto"`'s choice), then `rounds` interleaved
rounds of timed training steps, each round about `round_seconds` of the model's own time; a
model's step time is its best round. The budget divided by that time is its step count; the
runs that are scored then train for exactly that many steps, so they do not depend on the
load while they run, only on the relative step costs measured here.

The clock is the process's CPU time (all threads) divided by `threads`, the CPU seconds a
step would take of a machine with `threads` cores to itself. On a machine shared with other
work, wall-clock timings of even the best round varied 2x between models of identical cost
(the same network with two EMA decays); CPU time barely moves with the load. It assumes the
models use the cores equally well, which holds for these small convolutional networks
within the noise; `wall=True` times wall clock instead, for a quiet machine.
"""

import os
import time


def step_seconds(
    builders, dataset, rounds=3, warmup=30, round_seconds=2.0, threads=None, wall=False
):
    """Best-of-`rounds` seconds per training step of each model, timed in interleaved rounds.

    Args:
        builders: dict name -> function returning a compiled model trained with `fit`.
        dataset: a repeating `tf.data.Dataset` of training batches.
        rounds: timed rounds; the best is kept.
        warmup: untimed steps first; enough for `jit_compile="auto"` to decide.
        round_seconds: length of a round, in the model's own step time (>= 5 steps).
        threads: cores the CPU time is divided by; defaults to the machine's.
        wall: time wall clock instead of CPU time.

    Returns:
        dict name -> seconds per step.
    """
    threads = threads or os.cpu_count() or 1
    clock = time.perf_counter if wall else (lambda: time.process_time() / threads)

    def timed(model, steps):
        start = clock()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        return (clock() - start) / steps

    models = {name: build() for name, build in builders.items()}
    length = {}
    for name, model in models.items():
        model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
        length[name] = max(5, round(round_seconds / timed(model, 5)))
    best = {name: float("inf") for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            best[name] = min(best[name], timed(model, length[name]))
    return best


def budget_steps(seconds_per_step, seconds):
    """The step count of each model in a budget of `seconds` (at least 1)."""
    return {name: max(1, round(seconds / each)) for name, each in seconds_per_step.items()}


def interleaved_rates(models, steps, repeats, warmup=30):
    """Steps/s of each `(model, dataset)` in every one of `repeats` interleaved repeats.

    Each model first trains `warmup` untimed steps (tracing, XLA compilation, the choice of
    `jit_compile="auto"`); then every repeat times `steps` steps of each model in turn, so a
    change of the machine's speed falls on all of them alike. Wall clock: for a quiet machine.
    """
    for model, dataset in models.values():
        model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    rates = {name: [] for name in models}
    for _ in range(repeats):
        for name, (model, dataset) in models.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
            rates[name].append(steps / (time.perf_counter() - start))
    return rates


def interleaved_step_seconds(models, steps, repeats, warmup=30):
    """Wall and CPU seconds of every training step of each `(model, dataset)`, without each
    `fit`'s start.

    As `interleaved_rates` (warm-up, then `repeats` interleaved `fit`s of `steps` steps), but
    timed between the ends of consecutive steps inside each `fit` (`steps - 1` intervals a
    `fit`), so the start of a `fit` (its iterator; under a strategy, a distributed one) does
    not count: under `MirroredStrategy` on 2 logical CPUs that start took from nothing to
    3.6 s at random, and moved a 50-step `fit`'s rate by up to 3x for the same steps. The CPU
    seconds (the process's, all threads) move far less than wall clock with the machine's
    load (see the module docstring).

    Returns:
        (wall, cpu): dicts name -> list of seconds per step.
    """
    import keras  # noqa: PLC0415

    class StepEnds(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append((time.perf_counter(), time.process_time()))

    for model, dataset in models.values():
        model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    wall, cpu = {name: [] for name in models}, {name: [] for name in models}
    for _ in range(repeats):
        for name, (model, dataset) in models.items():
            ends = StepEnds()
            model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[ends])
            for (wall_0, cpu_0), (wall_1, cpu_1) in zip(ends.ends, ends.ends[1:]):
                wall[name].append(wall_1 - wall_0)
                cpu[name].append(cpu_1 - cpu_0)
    return wall, cpu
