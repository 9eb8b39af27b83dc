"""GAN training steps per second with tfgen's layers against the same networks in Keras' layers.

The DCGAN builders make their networks of `tfgen.layers.Conv2D` and `BatchNormalization`
(the same functions as Keras' layers, computed faster: see tfgen/layers.py). Here each network
is cloned with Keras' own `Conv2D` and `BatchNormalization` in their place and the same weights,
and four GANs train side by side on the same in-memory batches, through `model.fit`: tfgen's
layers and Keras' layers, each with TensorFlow's kernels and with XLA. Interleaved repeats; the
best counts, the median is printed beside it.

    PYTHONPATH=.:benchmarks python benchmarks/gan_layers.py [--image_size 16] [--steps 200]
        [--repeats 5]
"""

import _common
import keras
import numpy as np
import tensorflow as tf
from _gan_budget import interleaved_rates
from _reference_gan import keras_twin
from absl import flags

import tfgen.data
import tfgen.layers
from tfgen import architectures
from tfgen.models import GAN

FLAGS = flags.FLAGS
_common.define_warmup_flag()
flags.DEFINE_integer("image_size", 16, "Side of the (upscaled) digits.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("latent_dim", 64, "Latent code size.")
flags.DEFINE_integer("steps", 200, "Timed training steps per model and repeat.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions; the best is reported, the median beside.")

#: The layers compared: tfgen's and the Keras layers that compute the same.
KERAS_TWINS = {
    tfgen.layers.Conv2D: keras.layers.Conv2D,
    tfgen.layers.BatchNormalization: keras.layers.BatchNormalization,
}


def gan(layers, jit_compile):
    keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    networks = [
        architectures.dcgan_generator(shape, FLAGS.latent_dim),
        architectures.dcgan_discriminator(shape),
    ]
    if layers == "Keras":
        networks = [keras_twin(network, KERAS_TWINS) for network in networks]
    model = GAN(*networks, seed=0)
    model.compile(jit_compile=jit_compile)
    return model


def main(_):
    pipeline = tfgen.data.load(
        "digits", image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, repeat=True, seed=0
    )
    batches = np.stack([np.array(batch) for batch in pipeline.take(50)])
    dataset = tf.data.Dataset.from_tensor_slices(batches).repeat().with_options(pipeline.options())
    models = {
        f"{layers} layers, {'XLA' if jit else 'TensorFlow kernels'}": (gan(layers, jit), dataset)
        for jit in (False, True)
        for layers in ("tfgen", "Keras")
    }
    rates = interleaved_rates(models, FLAGS.steps, FLAGS.repeats, FLAGS.warmup)
    print(
        f"{FLAGS.image_size}x{FLAGS.image_size} digits, batch {FLAGS.batch_size}, the builders' "
        f"default networks; steps/s, best (median) of {FLAGS.repeats} repeats of {FLAGS.steps}"
    )
    best = {name: max(values) for name, values in rates.items()}
    for name, values in rates.items():
        keras_name = name.replace("tfgen", "Keras")
        ratio = f"   {best[name] / best[keras_name]:5.2f}x Keras' layers" if "tfgen" in name else ""
        print(f"{name:34s} {best[name]:6.1f} ({np.median(values):5.1f}){ratio}")


if __name__ == "__main__":
    _common.run(main)
