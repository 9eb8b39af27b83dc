"""DCGAN against SNGAN's residual networks on the bundled photographs at 32x32.

Both GANs train on the training crops of `tfgen.data.load("photos")` (random crops of the
training photographs) with the same `GAN.compile` settings (hinge loss, SNGAN's; tfgen's
default Adam), the same latent size and base width, for the same number of steps (steps, not
seconds, so that runs compare whatever the machine's load; the steps per second of each are
printed beside).
Samples are scored with the weight-free sliced Wasserstein distance of Laplacian-pyramid
patches (`tfgen.metrics.SlicedWasserstein`, x 1e3) against the held-out crops (the 154 tiles of
the held-out photographs); as many training crops against the same held-out crops give the
floor. A grid of samples of each and of real
crops is saved to docs/sngan_photos.png.

    PYTHONPATH=.:benchmarks python benchmarks/sngan_photos.py [--steps 400] [--seeds 2]
        [--equal_time]
"""

import time

import _common
import keras
import numpy as np
from _common import sliced_wasserstein as swd
from _gan_budget import step_seconds
from absl import flags

import tfgen.data
from tfgen import architectures, plot
from tfgen.models import GAN

FLAGS = flags.FLAGS
_common.define_warmup_flag()
flags.DEFINE_integer("steps", 400, "Training steps of each GAN (of the SNGAN with --equal_time).")
flags.DEFINE_bool(
    "equal_time",
    False,
    "Give the DCGAN the SNGAN's training time instead of its steps: both are timed side by "
    "side first (_gan_budget.py, CPU time) and the DCGAN's steps scale by the time ratio.",
)
flags.DEFINE_integer("seeds", 2, "Training runs (seeds 0..seeds-1) of each network.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("latent_dim", 128, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_string("figure", "docs/sngan_photos.png", "Where the sample grid goes ('' for none).")

SHAPE = (32, 32, 3)
SNGAN = "SNGAN (resnet_generator / resnet_discriminator)"
NETWORKS = {
    "DCGAN (dcgan_generator / dcgan_discriminator)": (
        architectures.dcgan_generator,
        architectures.dcgan_discriminator,
    ),
    SNGAN: (
        architectures.resnet_generator,
        architectures.resnet_discriminator,
    ),
}


def build(builders, seed):
    keras.utils.set_random_seed(seed)
    make_generator, make_discriminator = builders
    gan = GAN(
        make_generator(SHAPE, latent_dim=FLAGS.latent_dim, base_filters=FLAGS.base_filters),
        make_discriminator(SHAPE, base_filters=FLAGS.base_filters),
        seed=seed,
    )
    gan.compile(loss="hinge")
    return gan


def photos(seed):
    return tfgen.data.load(
        "photos", image_size=32, channels=3, batch_size=FLAGS.batch_size, repeat=True, seed=seed
    )


def train(builders, seed, steps):
    gan = build(builders, seed)
    data = photos(seed)
    gan.fit(data, steps_per_epoch=10, epochs=1, verbose=0)  # compile and warm up
    start = time.perf_counter()
    gan.fit(data, steps_per_epoch=steps - 10, epochs=1, verbose=0)
    rate = (steps - 10) / (time.perf_counter() - start)
    return gan, rate


def step_counts():
    """Steps of each network: `--steps` each, or the SNGAN's time with `--equal_time`."""
    steps = dict.fromkeys(NETWORKS, FLAGS.steps)
    if FLAGS.equal_time:
        builders = {name: (lambda b=b: build(b, 1000)) for name, b in NETWORKS.items()}
        seconds = step_seconds(builders, photos(1000), warmup=FLAGS.warmup)
        sngan = seconds[SNGAN]
        steps = {name: round(FLAGS.steps * sngan / each) for name, each in seconds.items()}
        for name, each in seconds.items():
            print(f"{name}: {1e3 * each:.1f} ms/step -> {steps[name]} steps", flush=True)
    return steps


def main(argv):
    del argv
    held_out, training = _common.photo_crops("test"), _common.photo_crops("train")
    floor = swd(held_out, training[: len(held_out)])
    print(f"training crops vs held-out crops (floor): SWD {floor:.1f}")
    rows, grids = [], {}
    steps = step_counts()
    for name, builders in NETWORKS.items():
        scores, rates = [], []
        for seed in range(FLAGS.seeds):
            gan, rate = train(builders, seed, steps[name])
            samples = np.asarray(gan.generate(len(held_out), seed=123)) * 2 - 1  # to [-1, 1]
            scores.append(swd(held_out, samples))
            rates.append(rate)
            grids.setdefault(name, samples[:8])
            print(f"{name}, seed {seed}: SWD {scores[-1]:.1f}, {rate:.1f} steps/s", flush=True)
        rows.append((name, scores, rates))
    print()
    _common.print_table(
        ["networks", "steps", "SWD per seed", "mean SWD", "steps/s"],
        [["real training crops (floor)", "", "", f"{floor:.1f}", ""]]
        + [
            [
                name,
                steps[name],
                ", ".join(f"{s:.1f}" for s in scores),
                f"{np.mean(scores):.1f}",
                f"{np.mean(rates):.1f}",
            ]
            for name, scores, rates in rows
        ],
    )
    if FLAGS.figure:
        rows_of_images = [*grids.values(), held_out[:8]]
        plot.image_grid(
            (np.concatenate(rows_of_images) + 1) / 2,
            FLAGS.figure,
            columns=8,
            title="rows: DCGAN, SNGAN, real held-out crops",
            scale=3,
        )
        print(f"samples: {FLAGS.figure}")


if __name__ == "__main__":
    _common.run(main)
