"""Training steps per second of tfgen's GAN against the keras-io reference, in one run.

Both train the same DCGAN generator and discriminator on the bundled digits with the same
batch size through `model.fit`; the reference is `benchmarks/reference_gan.py`.

    python benchmarks/gan_throughput.py [--image_size 16] [--batch_size 64] [--steps 200]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from reference_gan import ReferenceGAN  # noqa: E402

import tfgen.data  # noqa: E402
from tfgen import architectures  # noqa: E402
from tfgen.models import GAN  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("image_size", 16, "Side of the (upscaled) digits.")
flags.DEFINE_integer("batch_size", 64, "Batch size of both models.")
flags.DEFINE_integer("latent_dim", 64, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_integer("steps", 200, "Timed training steps per model.")
flags.DEFINE_integer("repeats", 3, "Timed repetitions; the best is reported.")


def networks():
    keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    generator = architectures.dcgan_generator(shape, FLAGS.latent_dim, FLAGS.base_filters)
    discriminator = architectures.dcgan_discriminator(shape, FLAGS.base_filters)
    return generator, discriminator


def best_rates(models, dataset):
    """Best steps/s of each model over interleaved repeats (fair when the machine is busy)."""
    for model in models.values():
        model.fit(dataset, epochs=1, steps_per_epoch=10, verbose=0)  # trace and warm up
    best = dict.fromkeys(models, 0.0)
    for _ in range(FLAGS.repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
            best[name] = max(best[name], FLAGS.steps / (time.perf_counter() - start))
    return best


def main(_):
    dataset = tfgen.data.load(
        "digits", image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, repeat=True, seed=0
    )
    candidates = {}
    generator, discriminator = networks()
    reference = ReferenceGAN(discriminator, generator, FLAGS.latent_dim)
    reference.compile()
    candidates["keras-io reference"] = reference
    for jit in (False, True):
        generator, discriminator = networks()
        gan = GAN(generator, discriminator, seed=0)
        gan.compile(jit_compile=jit)
        candidates[f"tfgen GAN (jit_compile={jit})"] = gan

    device = tf.config.list_logical_devices()[-1].device_type
    print(
        f"{FLAGS.image_size}x{FLAGS.image_size} digits, batch {FLAGS.batch_size}, "
        f"base_filters {FLAGS.base_filters}, {FLAGS.steps} steps, on {device}"
    )
    rates = best_rates(candidates, dataset)
    baseline = rates["keras-io reference"]
    for name, rate in rates.items():
        print(f"{name:32s} {rate:8.1f} steps/s   {rate / baseline:5.2f}x the reference")


if __name__ == "__main__":
    app.run(main)
