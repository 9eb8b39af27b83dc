"""Style transfer: evaluations to reach 10 % and 1 % of the starting loss, per optimizer.

`tfgen.stylize.transfer` on the bundled photographs (content: grace_hopper, style: flower),
64x64, the default random-feature network and loss weights, all runs from the content image.
Gradient descent (tfgen Nesterov with momentum 0), Nesterov's accelerated gradient (momentum
0.9) and Adam each run at every learning rate of a small grid for the same budget of
evaluations; each keeps the rate that reaches 1 % of the start in the fewest evaluations (then
10 %, then the lowest final loss). Conjugate gradient with its strong-Wolfe line search has no
rate to tune. One evaluation is one forward and backward pass through the feature network
(for conjugate gradient the line search's trials count too).

Conjugate gradient's line search needs the unprojected path, so it is projected to [-1, 1] only
between solver calls: once at the end ("conjugate gradient"), or after every eighth of the run
("CG, projected 8 times"); its counts to 10 % and 1 % are on that path, and its last loss is the
projected image's.

Wall clock per evaluation is the difference between a full and a short run of the same
settings divided by the difference in evaluations, so tracing and set-up cancel.

Writes docs/stylize.png: content, style and each optimizer's result at the budget.

Usage:
    PYTHONPATH=. python benchmarks/stylize.py [--budget 300] [--image_size 64]
        [--figure docs/stylize.png]
"""

from __future__ import annotations

import time

import _common
import keras
import numpy as np
from absl import flags

from tfgen import optimizers, plot, stylize

FLAGS = flags.FLAGS
flags.DEFINE_integer("budget", 300, "Evaluations per run.")
flags.DEFINE_integer("image_size", 64, "Side of the content, style and result images.")
flags.DEFINE_string("figure", "docs/stylize.png", "Where the result grid goes.")
flags.DEFINE_integer("grid", 3, "Learning rates tried per optimizer: the first `grid` of each.")

CONTENT, STYLE = "grace_hopper", "flower"
TARGETS = (0.1, 0.01)
LEARNING_RATES = {
    "gradient descent": (10.0, 20.0, 40.0),
    "Nesterov": (3.0, 10.0, 30.0),
    "Adam": (0.1, 0.3, 1.0),
}
# Conjugate gradient takes about three evaluations an iteration here.
CG_EVALUATIONS_PER_ITERATION = 3
SHORT_RUN = 10


def make_optimizer(name, learning_rate):
    if name == "gradient descent":
        return optimizers.Nesterov(learning_rate, momentum=0.0)
    if name == "Nesterov":
        return optimizers.Nesterov(learning_rate, momentum=0.9)
    return optimizers.Adam(learning_rate)


def evaluations_to(losses, fraction):
    """1-based count of evaluations until the loss is <= fraction * start, or None."""
    reached = np.flatnonzero(losses <= fraction * losses[0])
    return int(reached[0]) + 1 if reached.size else None


def timed_transfer(optimizer, steps, image_size, num_snapshots=1):
    start = time.perf_counter()
    # Conjugate gradient runs one solver call per snapshot interval and is projected to
    # [-1, 1] after each (the optimizers after every step).
    result = stylize.transfer(
        CONTENT,
        STYLE,
        optimizer=optimizer,
        steps=steps,
        image_size=image_size,
        num_snapshots=num_snapshots,
        seed=0,
    )
    return result, time.perf_counter() - start


def seconds_per_evaluation(optimizer_factory, steps, image_size, full):
    short, short_seconds = timed_transfer(optimizer_factory(), SHORT_RUN, image_size)
    result, seconds = full
    return (seconds - short_seconds) / (result.evaluations - short.evaluations)


def rank(result):
    """Sort key: fewest evaluations to 1 %, then to 10 %, then the lowest final loss."""
    never = 10**9
    return tuple(evaluations_to(result.losses, f) or never for f in TARGETS[::-1]) + (
        result.losses[-1],
    )


def main(argv):
    del argv
    keras.utils.set_random_seed(0)

    rows = {}
    for name, rates in LEARNING_RATES.items():
        runs = []
        for rate in rates[: FLAGS.grid]:
            full = timed_transfer(make_optimizer(name, rate), FLAGS.budget - 1, FLAGS.image_size)
            runs.append((rank(full[0]), rate, full))
            reached = [evaluations_to(full[0].losses, f) for f in TARGETS]
            print(f"{name:>18} lr {rate:<6g} evaluations to 10 %, 1 %: {reached}", flush=True)
        _, rate, full = min(runs, key=lambda run: run[0])
        per_evaluation = seconds_per_evaluation(
            lambda name=name, rate=rate: make_optimizer(name, rate),
            FLAGS.budget - 1,
            FLAGS.image_size,
            full,
        )
        rows[name] = (f"{rate:g}", full[0], per_evaluation)

    iterations = max(1, FLAGS.budget // CG_EVALUATIONS_PER_ITERATION)
    full = timed_transfer("conjugate_gradient", iterations, FLAGS.image_size)
    per_evaluation = seconds_per_evaluation(
        lambda: "conjugate_gradient", iterations, FLAGS.image_size, full
    )
    rows["conjugate gradient"] = ("line search", full[0], per_evaluation)
    projected, _ = timed_transfer("conjugate_gradient", iterations, FLAGS.image_size, 8)
    rows["CG, projected 8 times"] = ("line search", projected, per_evaluation)

    print(f"\n{FLAGS.image_size}x{FLAGS.image_size}, budget {FLAGS.budget} evaluations")
    table = []
    for name, (rate, result, per_evaluation) in rows.items():
        reached = [evaluations_to(result.losses, f) for f in TARGETS]
        cells = [str(n) if n else f"> {result.evaluations}" for n in reached]
        ratio = result.losses[-1] / result.losses[0]
        table.append(
            [
                name,
                rate,
                *cells,
                f"{ratio:.4f} (after {result.evaluations})",
                f"{1000 * per_evaluation:.0f}",
            ]
        )
    _common.print_table(
        ["optimizer", "learning rate", "to 10 %", "to 1 %", "loss at end / start", "ms / eval"],
        table,
    )
    gd = [evaluations_to(rows["gradient descent"][1].losses, f) for f in TARGETS]
    nesterov = [evaluations_to(rows["Nesterov"][1].losses, f) for f in TARGETS]
    for target, g, n in zip(TARGETS, gd, nesterov, strict=True):
        if g and n:
            print(f"gradient descent / Nesterov evaluations to {target:.0%}: {g / n:.2f}x")
        else:
            print(f"to {target:.0%}: gradient descent {g}, Nesterov {n} (None: not reached)")

    sources = [stylize.load_image(image, FLAGS.image_size) for image in (CONTENT, STYLE)]
    panels = sources + [result.image for _, result, _ in rows.values()]
    titles = ["content", "style"] + [
        f"{name} ({result.evaluations})" for name, (_, result, _) in rows.items()
    ]
    plot.image_grid(
        np.stack(panels),
        FLAGS.figure,
        columns=len(panels),
        title=" | ".join(titles) + " evaluations",
        scale=2,
    )
    print(f"wrote {FLAGS.figure}")


if __name__ == "__main__":
    _common.run(main)
