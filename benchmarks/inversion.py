"""GAN inversion: reconstruction error per generator evaluation, for three solvers.

A small DCGAN generator (16x16 grayscale, latent_dim 16) is trained briefly on the bundled
digits; images it makes from known codes z ~ N(0, I) are then inverted with
`tfgen.reconstruct.invert` by conjugate gradient, Nesterov's accelerated gradient and Adam, all
from the same initial codes. For each method the script reports, within a budget of generator
evaluations (each evaluation: one forward and backward pass over the whole batch), the median
per-image squared error on [-1, 1] (its PSNR on [0, 1] images in brackets) and the share of
images recovered to a PSNR of at least 40 dB. All images are solved as one problem (the sum of
their losses), so conjugate gradient takes one line search for the whole batch.

The learning rates of Nesterov and Adam are chosen from a small grid on a separate set of
images (the lowest error at the largest budget); conjugate gradient has no step size to tune.

Usage:
    PYTHONPATH=. python benchmarks/inversion.py [--images 32] [--epochs 20] [--seed 0]
"""

from __future__ import annotations

import math
import time

import _common
import keras
import numpy as np
import tensorflow as tf
from absl import flags

import tfgen.data
from tfgen import architectures
from tfgen.models import GAN
from tfgen.reconstruct import invert

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 32, "Images inverted (and as many to tune the learning rates).")
flags.DEFINE_integer("epochs", 20, "Training epochs of the generator on the digits.")
flags.DEFINE_integer("seed", 0, "Seed of the training, the codes and the solvers.")

SIDE = 16
LATENT_DIM = 16
BUDGETS = (10, 25, 50, 100, 200, 400, 800)
# Iteration counts tried of conjugate gradient (its line search takes a varying number of
# evaluations an iteration; Nesterov and Adam take one: budget - 1 iterations); runs restart
# from the same codes, so the error reached within a budget is that of the longest run whose
# evaluations fit in it.
CG_ITERATIONS = (1, 2, 3, 4, 6, 8, 11, 15, 20, 30, 40, 55, 75, 100, 140, 200, 280, 400)
flags.DEFINE_integer("max_budget", BUDGETS[-1], f"Largest budget of {BUDGETS} reported.")
# An image counts as recovered at this PSNR (dB, on [0, 1]).
RECOVERED_DB = 40.0
LEARNING_RATES = {
    "nesterov": (0.1, 0.3, 1.0, 3.0, 10.0),
    "adam": (0.01, 0.03, 0.1, 0.3),
}


def train_generator(epochs: int, seed: int):
    keras.utils.set_random_seed(seed)
    data = tfgen.data.load("digits", image_size=SIDE, batch_size=64, seed=seed)
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT_DIM, base_filters=16)
    discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), base_filters=16)
    gan = GAN(generator, discriminator, seed=seed)
    gan.compile()
    gan.fit(data, epochs=epochs, verbose=0)
    return gan.generator


def psnr_of(mse: float) -> float:
    # Squared error on [-1, 1] is four times that on [0, 1].
    return 10.0 * math.log10(4.0 / mse) if mse > 0 else math.inf


def budgets():
    return [b for b in BUDGETS if b <= FLAGS.max_budget]


def iterations(method):
    """The iteration counts run of `method` (module comment at CG_ITERATIONS)."""
    if method == "conjugate_gradient":
        return [i for i in CG_ITERATIONS if i < budgets()[-1]]
    return [b - 1 for b in budgets()]


def run_method(generator, images, method, seed, **options):
    """[(evaluations, per-image errors)] over the method's iteration counts."""
    rows = []
    for steps in iterations(method):
        result = invert(
            generator, images, method=method, steps=steps, seed=seed, tolerance=0.0, **options
        )
        rows.append((result.function_evaluations, result.errors))
    return rows


def within_budget(rows, budget):
    fitting = [row for row in rows if row[0] <= budget]
    return max(fitting, key=lambda row: row[0]) if fitting else None


def tune(generator, images, method, seed):
    best = None
    for rate in LEARNING_RATES[method]:
        steps = budgets()[-1] - 1
        result = invert(
            generator,
            images,
            method=method,
            steps=steps,
            seed=seed,
            tolerance=0.0,
            learning_rate=rate,
        )
        error = float(np.mean(result.errors))
        print(f"  {method} learning_rate {rate}: MSE {error:.2e} after {steps} iterations")
        if np.isfinite(error) and (best is None or error < best[1]):
            best = (rate, error)
    return best[0]


def main(argv):
    del argv
    # Reproducible numbers: deterministic kernels (and a seeded tf.data order).
    tf.config.experimental.enable_op_determinism()

    start = time.time()
    generator = train_generator(FLAGS.epochs, FLAGS.seed)
    print(
        f"generator: DCGAN {SIDE}x{SIDE}x1, latent_dim {LATENT_DIM}, trained {FLAGS.epochs} "
        f"epochs on digits ({time.time() - start:.0f} s)"
    )

    rng = np.random.default_rng(FLAGS.seed)
    codes = rng.normal(size=(FLAGS.images, LATENT_DIM)).astype(np.float32)
    held_out = rng.normal(size=(FLAGS.images, LATENT_DIM)).astype(np.float32)
    images = generator(codes, training=False).numpy()
    tuning_images = generator(held_out, training=False).numpy()

    options = {"conjugate_gradient": {}}
    for method in ("nesterov", "adam"):
        rate = tune(generator, tuning_images, method, seed=FLAGS.seed + 1)
        options[method] = {"learning_rate": rate}
        print(f"{method}: learning_rate {rate} (best of {LEARNING_RATES[method]})")

    results = {}
    for method, opts in options.items():
        t = time.time()
        results[method] = run_method(generator, images, method, FLAGS.seed + 2, **opts)
        print(f"{method}: {time.time() - t:.1f} s")

    print(f"\n{FLAGS.images} images from known codes; initial codes z ~ N(0, I), one restart.")
    print(
        "Median per-image MSE on [-1, 1] (PSNR in dB on [0, 1]) / share of images at PSNR >= "
        f"{RECOVERED_DB:g} dB, reached within a budget of generator evaluations:\n"
    )
    width = 27
    header = f"| {'evaluations':>11} | " + " | ".join(f"{m:^{width}}" for m in options) + " |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for budget in budgets():
        cells = []
        for method in options:
            row = within_budget(results[method], budget)
            if row is None:
                cells.append("-")
                continue
            errors = row[1]
            median = float(np.median(errors))
            recovered = np.mean([psnr_of(e) >= RECOVERED_DB for e in errors])
            cells.append(f"{median:8.2e} ({psnr_of(median):5.1f} dB) / {recovered:4.0%}")
        print(f"| {budget:>11} | " + " | ".join(f"{c:^{width}}" for c in cells) + " |")
    print(f"\ntotal time {time.time() - start:.0f} s")


if __name__ == "__main__":
    _common.run(main)
