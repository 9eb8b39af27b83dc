"""The default GAN step (or Autoencoder step, `--model autoencoder`) on two replicas
(MirroredStrategy over 2 logical CPU devices), against what a Keras user writes without tfgen.

The reference is the keras-io example's step (`benchmarks/_reference_gan.py`; with
`--model autoencoder`, keras-io's image-denoising recipe: a plain `keras.Model` compiled with
Adam and the mean squared error, fit on noisy/clean pairs made beforehand) on the same
architecture written with Keras' own layers (`keras_twin`: Keras' `Conv2D`,
`BatchNormalization`, synchronised under the strategy as tfgen's builders make it, and
`LeakyReLU`), with the same initial weights, its networks called with `training=True` (the
example calls them without, which Keras runs in inference mode: its batch norm would skip the
batch statistics and their synchronisation that tfgen's step computes). Timed through
`model.fit` on the same in-memory batches and the same global batch:

- tfgen's model under the strategy, default compile (`jit_compile="auto"`, which measures XLA
  compiling each replica's parts; the builders' networks made in the strategy's scope, so with
  tfgen's synchronised batch norm, which keeps the generator's parts with TensorFlow's
  kernels), and the same with `jit_compile=False`;
- the reference under the same strategy;
- tfgen's default and the reference on one device (no strategy; the networks built outside the
  scope: no synchronisation).

Each model's steps are timed between the ends of consecutive steps inside interleaved `fit`
calls (`interleaved_step_seconds`): the start of a `fit` under a strategy varies at random by
seconds, which swamped the earlier whole-`fit` timings. Reported: steps per second from the
median step time; ratios of the median wall-clock and of the median CPU seconds of a step
(the process's CPU time, all threads, which a busy machine disturbs far less) in the same run.

What this measures on a CPU: the two logical devices share the machine's cores and memory, so
two replicas do the one device's arithmetic plus the cost of splitting batches, all-reducing
gradients and synchronising batch statistics; it shows tfgen's step against the reference
under the same strategy and the strategy's overhead, not the speed-up of real devices. What it
cannot say: how either scales on GPUs, where each replica has its own device and the
all-reduce runs over NVLink/PCIe (NCCL); run it there with `--devices=gpu`.

    PYTHONPATH=.:benchmarks python benchmarks/distributed_step.py [--image_size 16]
        [--batch_size 64] [--steps 50] [--repeats 3] [--devices cpu] [--model gan]
"""

import _common
import tensorflow as tf
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("image_size", 16, "Side of the (upscaled) digits.")
flags.DEFINE_integer("batch_size", 64, "Global batch size of every model.")
flags.DEFINE_integer("latent_dim", 64, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_integer(
    "steps",
    50,
    "Training steps per model and repeat (>= 2: steps are timed end to end).",
    lower_bound=2,
)
flags.DEFINE_integer("repeats", 3, "Interleaved timed `fit` calls per model.")
flags.DEFINE_enum("model", "gan", ["gan", "autoencoder"], "The default step timed.")
flags.DEFINE_enum(
    "devices", "cpu", ["cpu", "gpu"], "cpu: 2 logical CPU devices; gpu: the first 2 GPUs."
)


def replica_devices():
    """Names of the two devices the strategy mirrors over (the CPU split in two, or 2 GPUs)."""
    if FLAGS.devices == "gpu":
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < 2:
            raise SystemExit(f"--devices=gpu needs 2 GPUs, found {len(gpus)}")
        return [gpu.name for gpu in gpus[:2]]
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    return [device.name for device in tf.config.list_logical_devices("CPU")[:2]]


def candidates(strategy, reference, tfgen_model):
    """The timed rows: `reference` and `tfgen_model`, each `(build, dataset)` with `build`
    taking compile arguments (tfgen's), made under the strategy and on one device."""
    (build_reference, reference_data), (build_tfgen, data) = reference, tfgen_model
    rows = {}
    with strategy.scope():
        rows[REFERENCE] = (build_reference(), reference_data)
        rows[DEFAULT] = (build_tfgen(), data)
        # The same without XLA: what the per-replica XLA parts add under the strategy.
        rows[WITHOUT_XLA] = (build_tfgen(jit_compile=False), data)
    rows[REFERENCE_ONE_DEVICE] = (build_reference(), reference_data)
    rows[ONE_DEVICE] = (build_tfgen(), data)
    return rows


def gan_candidates(strategy, data):
    """The GANs timed: keras-io's step on Keras' layers and tfgen's, under the strategy and on
    one device."""
    import keras  # noqa: PLC0415
    from _reference_gan import ReferenceGAN, keras_twin  # noqa: PLC0415

    from tfgen import architectures  # noqa: PLC0415
    from tfgen.models import GAN  # noqa: PLC0415

    def networks():
        keras.utils.set_random_seed(0)
        shape = (FLAGS.image_size, FLAGS.image_size, 1)
        return (
            architectures.dcgan_generator(shape, FLAGS.latent_dim, FLAGS.base_filters),
            architectures.dcgan_discriminator(shape, FLAGS.base_filters),
        )

    def reference():
        generator, discriminator = map(keras_twin, networks())
        model = ReferenceGAN(discriminator, generator, FLAGS.latent_dim, training=True)
        model.compile()
        # What the keras-io example needs to run under a strategy at all: its networks are
        # built (it has no `call` for Keras to build it with), and its optimizers are built
        # in the scope (Keras builds them in the first traced step, which a strategy refuses).
        model.built = True
        model.d_optimizer.build(discriminator.trainable_variables)
        model.g_optimizer.build(generator.trainable_variables)
        return model

    def tfgen_gan(**compile_args):
        model = GAN(*networks(), seed=0)
        model.compile(**compile_args)
        return model

    return candidates(strategy, (reference, data), (tfgen_gan, data))


def autoencoder_candidates(strategy, data):
    """The denoising U-Nets timed: keras-io's "image denoising" recipe (a plain `keras.Model`
    compiled with Adam and the mean squared error, fit on noisy/clean pairs made beforehand)
    on the U-Net in Keras' layers, and tfgen's `Autoencoder` (noise drawn in its step), under
    the strategy and on one device; the same U-Net, noise standard deviation and Adam learning
    rate."""
    import keras  # noqa: PLC0415
    from _reference_gan import keras_twin  # noqa: PLC0415

    from tfgen import architectures, corruptions  # noqa: PLC0415
    from tfgen.models import Autoencoder  # noqa: PLC0415
    from tfgen.models.autoencoder import DEFAULT_LEARNING_RATE  # noqa: PLC0415

    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    stddev = 0.2

    def network():
        keras.utils.set_random_seed(0)
        return architectures.unet(shape, base_filters=FLAGS.base_filters)

    def tfgen_model(**compile_args):
        model = Autoencoder(
            None, network(), corruption=corruptions.GaussianNoise(stddev), loss="l2", seed=0
        )
        model.compile(**compile_args)
        return model

    noise = tf.random.stateless_normal(tf.shape(next(iter(data))), seed=[0, 0])
    pairs = data.map(lambda clean: (tf.clip_by_value(clean + stddev * noise, -1, 1), clean))

    def reference():
        model = keras_twin(network())
        model.compile(optimizer=keras.optimizers.Adam(DEFAULT_LEARNING_RATE), loss="mse")
        return model

    return candidates(strategy, (reference, pairs), (tfgen_model, data))


REFERENCE = "keras-io reference, 2 replicas"
DEFAULT = "tfgen (default), 2 replicas"
WITHOUT_XLA = "tfgen (no XLA), 2 replicas"
REFERENCE_ONE_DEVICE = "keras-io reference, 1 device"
ONE_DEVICE = "tfgen (default), 1 device"


def main(_):
    devices = replica_devices()  # Before any other TensorFlow work.
    import numpy as np  # noqa: PLC0415
    from _gan_budget import interleaved_step_seconds  # noqa: PLC0415

    import tfgen.data  # noqa: PLC0415

    pipeline = tfgen.data.load(
        "digits", image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, repeat=True, seed=0
    )
    batches = np.stack([np.array(batch) for batch in pipeline.take(50)])
    data = tf.data.Dataset.from_tensor_slices(batches).repeat().with_options(pipeline.options())
    strategy = tf.distribute.MirroredStrategy(devices)
    build = gan_candidates if FLAGS.model == "gan" else autoencoder_candidates
    rows = build(strategy, data)

    print(
        f"{FLAGS.model}: {FLAGS.image_size}x{FLAGS.image_size} digits, global batch "
        f"{FLAGS.batch_size}, base_filters {FLAGS.base_filters}, {FLAGS.steps} steps x "
        f"{FLAGS.repeats} repeats, replicas on {', '.join(devices)}"
    )
    wall, cpu = interleaved_step_seconds(rows, FLAGS.steps, FLAGS.repeats)
    median = {name: float(np.median(times)) for name, times in wall.items()}
    cpu_median = {name: float(np.median(times)) for name, times in cpu.items()}
    print("steps/s from the median wall-clock step; ratios of median wall (CPU) seconds a step")
    for name, (model, _) in rows.items():
        decision = getattr(model, "jit_decision", None)
        jit = f"  jit_compile={model.jit_compile}" + (" (measured)" if decision else "")
        against = REFERENCE_ONE_DEVICE if name.endswith("1 device") else REFERENCE
        print(
            f"{name:34s} {1 / median[name]:7.2f} steps/s, {median[against] / median[name]:4.2f}x "
            f"({cpu_median[against] / cpu_median[name]:4.2f}x) the {against}{jit}"
        )
    print(f"tfgen 2 replicas / 1 device: {median[ONE_DEVICE] / median[DEFAULT]:.2f}x")


if __name__ == "__main__":
    _common.run(main)
