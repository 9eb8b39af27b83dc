"""Denoising and inpainting quality on held-out crops of real photographs.

Two `tfgen.models.autoencoder.Autoencoder` models are trained for a fixed number of steps on
random crops of the bundled training photographs (`tfgen.data.load("photos", split="train",
image_size=32)`: 64x64 crops resized to 32x32), one with `GaussianNoise(0.2)` (standard
deviation 0.1 on [0, 1] images) and one with `RandomMask(0.25, patch_size=4)` (25% of the
pixels masked in 4x4 blocks), and scored on the test crops (`split="test"`: the crops tiling the
held-out photographs of `tfgen.data.photos`, which training never sees; the run prints how many
there are). Each test crop is corrupted once with a fixed seed, and every method sees the same
corrupted crops.

Baselines, in the same run:
* the corrupted input itself;
* denoising: a Gaussian blur of the noisy crop, with the sigma of the grid that scores best on
  the test crops themselves (an oracle choice, which favours the baseline);
* inpainting: each channel's mean over the known pixels written into the masked ones, and a
  blur fill (normalised convolution, Knutsson & Westin 1993: blur(m * x) / blur(m) in the
  masked pixels, known pixels kept), again with the best sigma on the test crops.

PSNR (dB) and SSIM are computed on [0, 1] images with `tfgen.models.autoencoder.psnr`/`ssim`
(`tf.image.psnr`/`tf.image.ssim`, max_val=1) and averaged over the test crops.

The default networks are fully convolutional (code: a 16x16x32 feature map), a denoising
autoencoder in the sense of Vincent et al. 2008; `--architecture builders` uses
`tfgen.architectures.conv_encoder`/`conv_decoder` (a dense bottleneck of `--latent_dim`).

Usage:
    python benchmarks/reconstruction.py [--steps 2000] [--batch_size 16] [--seed 0]
"""

from __future__ import annotations

import time

import _common
import keras
import tensorflow as tf
from _classical import blur, blur_fill, mean_fill, scores, table
from absl import flags

import tfgen.data
from tfgen import architectures, corruptions
from tfgen.models.autoencoder import Autoencoder
from tfgen.optimizers import Adam
from tfgen.runs.reconstruction import RESTORATION_LEARNING_RATE

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 2000, "Training steps of each autoencoder.")
flags.DEFINE_integer("batch_size", 16, "Crops per training batch.")
flags.DEFINE_float(
    "learning_rate", RESTORATION_LEARNING_RATE, "Adam's initial learning rate (cosine decay)."
)
flags.DEFINE_enum(
    "architecture",
    "convolutional",
    ["convolutional", "builders"],
    "convolutional: the fully convolutional pair; builders: tfgen.architectures' conv pair.",
)
flags.DEFINE_integer("latent_dim", 512, "Bottleneck size of the builders' pair.")
flags.DEFINE_integer("seed", 0, "Seed of the weights and of the training crops' order.")

SIDE = 32
IMAGE_SHAPE = (SIDE, SIDE, 3)
NOISE_STDDEV = 0.2  # in [-1, 1] units: 0.1 on [0, 1] images
MASK_FRACTION = corruptions.pixels.DEFAULT_MASK_FRACTION
MASK_PATCH = corruptions.pixels.DEFAULT_MASK_PATCH
SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
DATA = "photos"


def convolutional_pair(filters: int = 32, code_channels: int = 32):
    """Encoder 32x32x3 -> 16x16xcode_channels and the mirrored decoder (tanh output)."""
    layers = keras.layers
    images = keras.Input(IMAGE_SHAPE, name="images")
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(images)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(2 * filters, 3, padding="same", activation="relu")(x)
    code = layers.Conv2D(code_channels, 3, padding="same", name="code")(x)
    encoder = keras.Model(images, code, name="encoder")
    z = keras.Input((SIDE // 2, SIDE // 2, code_channels), name="code")
    y = layers.Conv2D(2 * filters, 3, padding="same", activation="relu")(z)
    y = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", activation="relu")(y)
    out = layers.Conv2D(3, 3, padding="same", activation="tanh", dtype="float32")(y)
    return encoder, keras.Model(z, out, name="decoder")


def builders_pair(latent_dim: int):
    encoder = architectures.conv_encoder(IMAGE_SHAPE, latent_dim, base_filters=32)
    decoder = architectures.conv_decoder(latent_dim, IMAGE_SHAPE, base_filters=32)
    return encoder, decoder


def best_over_sigmas(clean, make):
    results = [(sigma, *scores(clean, make(sigma))) for sigma in SIGMAS]
    return max(results, key=lambda r: r[1])


def train(corruption, args, seed):
    keras.utils.set_random_seed(seed)
    if args.architecture == "builders":
        encoder, decoder = builders_pair(args.latent_dim)
    else:
        encoder, decoder = convolutional_pair()
    model = Autoencoder(encoder, decoder, corruption=corruption, loss="l1", seed=seed)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, args.steps)
    model.compile(Adam(schedule))
    data = tfgen.data.load(
        DATA, split="train", image_size=SIDE, batch_size=args.batch_size, seed=seed, repeat=True
    )
    start = time.time()
    model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
    return model, time.time() - start


def main(argv):
    del argv
    # Reproducible numbers: deterministic kernels (and a seeded tf.data order).
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")
    args = FLAGS

    test = _common.photo_crops("test")  # All of them: no partial batch dropped.
    print(
        f"{len(test)} held-out {SIDE}x{SIDE} test crops; training: {args.steps} steps of "
        f"{args.batch_size} crops, Adam({args.learning_rate}) with cosine decay, l1 loss, "
        f"{args.architecture} networks"
    )
    eval_seed = 12345

    # Denoising.
    noise = corruptions.GaussianNoise(NOISE_STDDEV)
    noisy = noise(test, eval_seed).numpy()
    model, seconds = train(noise, args, args.seed)
    restored = model.predict(noisy, batch_size=100, verbose=0)
    sigma, *blurred = best_over_sigmas(test, lambda s: blur(noisy, s))
    table(
        f"Denoising, Gaussian noise stddev 0.1 on [0, 1] (training {seconds:.0f} s)",
        [
            ("noisy input", scores(test, noisy)),
            (f"Gaussian blur (best sigma {sigma})", tuple(blurred)),
            ("denoising autoencoder", scores(test, restored)),
        ],
    )

    # Inpainting.
    mask = corruptions.RandomMask(MASK_FRACTION, MASK_PATCH)
    masked = mask(test, eval_seed).numpy()
    known = mask.mask(test, eval_seed).numpy()
    model, seconds = train(mask, args, args.seed)
    restored = model.predict(masked, batch_size=100, verbose=0)
    pasted = known * masked + (1.0 - known) * restored
    sigma, *filled = best_over_sigmas(test, lambda s: blur_fill(masked, known, s))
    table(
        f"Inpainting, {MASK_FRACTION:.0%} masked in {MASK_PATCH}x{MASK_PATCH} blocks "
        f"(measured {1 - known.mean():.1%}; training {seconds:.0f} s)",
        [
            ("masked input (grey fill)", scores(test, masked)),
            ("mean fill", scores(test, mean_fill(masked, known))),
            (f"blur fill (best sigma {sigma})", tuple(filled)),
            ("inpainting autoencoder", scores(test, restored)),
            ("inpainting autoencoder, known pixels kept", scores(test, pasted)),
        ],
    )


if __name__ == "__main__":
    _common.run(main)
