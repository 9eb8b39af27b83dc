"""Checkerboard artefacts of DCGAN generator variants on the bundled photographs at 32x32.

Each variant of `dcgan_generator` (with the default `dcgan_discriminator`, `GAN.compile(loss=
"hinge")` as benchmarks/sngan_photos.py) trains `--steps` steps of batch 32 per seed; its
samples are scored by
- the checkerboard energy: the share of each image's spectral energy (mean removed, per
  channel) at the frequencies of a period-2 pattern, (pi, 0), (0, pi) and (pi, pi), which is
  where the uneven overlap of stride-2 transposed convolutions puts it (Odena et al. 2016,
  "Deconvolution and Checkerboard Artifacts"); averaged over samples and given beside the
  held-out crops' own value (the floor);
- the sliced Wasserstein distance (`tfgen.metrics.SlicedWasserstein`, x 1e3) to the held-out
  crops (the 154 tiles of the held-out photographs), beside the training crops' (the floor).
A grid, one row of samples per variant and one of held-out crops, goes to `--figure`.

    PYTHONPATH=.:benchmarks python benchmarks/photos_checkerboard.py [--steps 1500] [--seeds 2]
"""

import _common
import keras
import numpy as np
from _common import sliced_wasserstein as swd
from absl import app, flags

import tfgen.data
from tfgen import architectures, plot
from tfgen.models import GAN

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 1500, "Training steps of each variant and seed.")
flags.DEFINE_integer("seeds", 2, "Seeds 0..seeds-1 of each variant.")
# Repeated rather than comma-separated: the variants' names hold commas.
flags.DEFINE_multi_string(
    "variants", [], "Only this variant (a name of VARIANTS; repeat the flag for more); default all."
)
flags.DEFINE_string("figure", "", "Where the sample grid goes ('' for none).")

SHAPE = (32, 32, 3)
VARIANTS = {
    "transpose, kernel 3": dict(upsampling="transpose", kernel_size=3),
    "transpose, kernel 4": dict(upsampling="transpose", kernel_size=4),
    "nearest + conv, kernel 3": dict(upsampling="nearest", kernel_size=3),
}


def checkerboard_energy(images):
    """Mean share of spectral energy at the period-2 frequencies (module docstring)."""
    images = np.asarray(images, np.float64)
    centred = images - images.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred, axes=(1, 2))) ** 2
    h, w = images.shape[1] // 2, images.shape[2] // 2
    period_two = power[:, h, 0] + power[:, 0, w] + power[:, h, w]
    total = power.sum(axis=(1, 2))
    return float(np.mean(period_two.sum(-1) / np.maximum(total.sum(-1), 1e-12)))


def train(options, seed):
    keras.utils.set_random_seed(seed)
    gan = GAN(
        architectures.dcgan_generator(SHAPE, **options),
        architectures.dcgan_discriminator(SHAPE),
        seed=seed,
    )
    gan.compile(loss="hinge")
    data = tfgen.data.load(
        "photos", image_size=32, channels=3, batch_size=32, repeat=True, seed=seed
    )
    gan.fit(data, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
    return gan


def main(argv):
    del argv
    unknown = [name for name in FLAGS.variants if name not in VARIANTS]
    if unknown:
        raise app.UsageError(f"--variants: unknown {unknown}; the variants are {list(VARIANTS)}")
    held_out, training = _common.photo_crops("test"), _common.photo_crops("train")
    print(
        f"held-out crops: checkerboard {checkerboard_energy(held_out):.4f}; training crops: "
        f"SWD {swd(held_out, training[: len(held_out)]):.1f} (the floors)"
    )
    print("| generator | checkerboard per seed | SWD per seed |\n|---|---|---|")
    grids, names = [], []
    for name, options in VARIANTS.items():
        if FLAGS.variants and name not in FLAGS.variants:
            continue
        energies, distances = [], []
        for seed in range(FLAGS.seeds):
            gan = train(options, seed)
            samples = np.asarray(gan.generate(len(held_out), seed=123)) * 2 - 1
            energies.append(checkerboard_energy(samples))
            distances.append(swd(held_out, samples))
            if seed == 0:
                grids.append(samples[:8])
                names.append(name)
        print(
            f"| {name} | {' / '.join(f'{e:.4f}' for e in energies)} | "
            f"{' / '.join(f'{d:.1f}' for d in distances)} |",
            flush=True,
        )
    if FLAGS.figure:
        plot.image_grid(
            (np.concatenate([*grids, held_out[:8]]) + 1) / 2,
            FLAGS.figure,
            columns=8,
            title="rows: " + ", ".join(names) + ", held-out crops",
        )


if __name__ == "__main__":
    _common.run(main)
