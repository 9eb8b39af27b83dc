"""The optimisation loop of `tfgen.stylize`: pixels driven by an optimizer or a solver."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfgen import images, solvers
from tfgen.optimizers import rules
from tfgen.stylize.features import _identity

# Conjugate gradient's line search takes at most this many evaluations (tfgen.solvers default),
# plus one refining evaluation.
_LINE_SEARCH_EVALUATIONS = 26


@dataclasses.dataclass(frozen=True)
class StylizeResult:
    """Outcome of `transfer`, `texture` or `visualize`.

    Attributes:
        image: (H, W, C) float32 in [0, 1], the optimised image.
        losses: (evaluations,) float64, the objective at every evaluation in order: for an
            optimizer one per step (before its update), for conjugate gradient also the line
            search's trials; the last entry is the returned image's. For `visualize` it is the
            activation being maximised.
        evaluations: function-and-gradient evaluations made (the last, of the returned image,
            without gradient), = len(losses).
        snapshots: (n, H, W, C) float32 in [0, 1], the image at the start and after evenly
            spaced steps, the last being `image`.
        snapshot_evaluations: (n,) int, the evaluations made when each snapshot was taken.
    """

    image: np.ndarray
    losses: np.ndarray
    evaluations: int
    snapshots: np.ndarray
    snapshot_evaluations: np.ndarray


def _optimize(
    objective, start, optimizer, steps, num_snapshots, maximize, shift=None, project=None
):
    """Optimise the pixels of `start` ((1, H, W, C) in [-1, 1]) and collect the result.

    `objective(x)` is the scalar to minimise (or maximise), `shift(x, step)` an optional random
    transformation of the input at each evaluation (jitter), `project(x)` what is applied after
    every step before clipping to [-1, 1] (blur).
    """
    image = tf.Variable(start, name="image")
    optimizer = optimizer(int(start.shape[1] * start.shape[2]))
    project = project or _identity
    # The objective is plain TensorFlow (no Python control flow on tensors): AutoGraph need not
    # convert it, and cannot for closures made per call.
    objective = tf.autograph.experimental.do_not_convert(objective)
    boundaries = np.unique(np.linspace(0, steps, num_snapshots + 1).round().astype(int))
    losses, snapshots, snapshot_evaluations = [], [_to_unit(image)], [0]

    if optimizer == "conjugate_gradient":
        run = _solver_chunk(objective, image, int(np.diff(boundaries).max()), maximize, project)
    else:
        run = _optimizer_chunk(objective, image, optimizer, maximize, shift, project)
    for first, last in zip(boundaries[:-1], boundaries[1:], strict=True):
        losses.extend(run(int(first), int(last - first)))
        snapshots.append(_to_unit(image))
        snapshot_evaluations.append(len(losses))
    losses.append(float(tf.function(objective, autograph=False)(image)))
    snapshot_evaluations[-1] = len(losses)
    return StylizeResult(
        image=snapshots[-1],
        losses=np.asarray(losses, np.float64),
        evaluations=len(losses),
        snapshots=np.stack(snapshots),
        snapshot_evaluations=np.asarray(snapshot_evaluations),
    )


def _to_unit(image):
    return images.to_unit_range(image.numpy()[0])


def _optimizer_chunk(objective, image, optimizer, maximize, shift, project):
    """A compiled loop running `count` steps of a Keras optimizer on `image`."""
    optimizer.build([image])
    # The gradient the optimizer sees: ascent is its own sign flip when it has maximize=True.
    flip = maximize and not rules.is_maximizing(optimizer)

    @tf.function
    def run(first, count):
        losses = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            with tf.GradientTape() as tape:
                x = image if shift is None else shift(image, first + i)
                loss = objective(x)
            gradient = tape.gradient(loss, image)
            optimizer.apply_gradients([(rules.orient(gradient, flip), image)])
            image.assign(tf.clip_by_value(project(image), -1.0, 1.0))
            losses = losses.write(i, loss)
        return losses.stack()

    return lambda first, count: run(tf.constant(first), tf.constant(count)).numpy().tolist()


def _solver_chunk(objective, image, most_steps, maximize, project):
    """`count` conjugate-gradient iterations of `tfgen.solvers.minimize`, then a projection.

    The line search needs the path x + alpha d unprojected, so the image is projected (and
    clipped to [-1, 1]) between calls, after every snapshot interval, rather than after every
    iteration. Each evaluation's loss is recorded from inside the solver's loop into `trace`.
    """
    capacity = 1 + most_steps * _LINE_SEARCH_EVALUATIONS
    trace = tf.Variable(tf.zeros([capacity]), trainable=False)
    count = tf.Variable(0, trainable=False)

    def loss_fn():
        value = objective(image)
        index = tf.minimum(count.read_value(), capacity - 1)
        with tf.control_dependencies([trace.scatter_nd_update([[index]], [value])]):
            with tf.control_dependencies([count.assign_add(1)]):
                return rules.orient(tf.identity(value), maximize)

    # Inside a tf.function the solver builds its loop in this graph: one trace per chunk length.
    # (Automatic control dependencies keep the reads and writes of count and image in order.)
    @tf.function(autograph=False)
    def solve(steps):
        count.assign(0)
        solvers.minimize(
            loss_fn, [image], "conjugate_gradient", max_iterations=steps, tolerance=0.0
        )
        image.assign(tf.clip_by_value(project(image), -1.0, 1.0))
        return count.read_value()

    def run(first, steps):
        del first
        evaluations = int(solve(steps))
        return trace.numpy()[:evaluations].tolist()

    return run
