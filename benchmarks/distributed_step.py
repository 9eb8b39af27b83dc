"""The default GAN step (or Autoencoder step, `--model autoencoder`) on two replicas
(MirroredStrategy over 2 logical CPU devices).

With `--model autoencoder`: a denoising U-Net, tfgen's `Autoencoder` (noise drawn in its
step, per-replica XLA parts when "auto" measures them faster) against keras-io's recipe for
image denoising (a plain `keras.Model`, Adam and the mean squared error, fit on noisy/clean
pairs made beforehand) under the same strategy, and tfgen's on one device. Otherwise:

Compares, through `model.fit` on the same in-memory batches of the bundled digits and the same
global batch: tfgen's `GAN` under the strategy (its default compile: `jit_compile="auto"`,
which measures XLA compiling each replica's parts; the builders' networks made in the
strategy's scope, so with a synchronised batch norm, which keeps the generator's parts with
TensorFlow's kernels), the same with `jit_compile=False`, the keras-io reference step
(`benchmarks/_reference_gan.py`) under the same strategy on the same networks, and tfgen's
default on one device (no strategy; the same networks built outside the scope: tfgen's fused
batch norm, XLA if "auto" measures it faster). Interleaved repeats, the best counts, the
median beside it; ratios are of steps per second in the same run.

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
flags.DEFINE_integer("steps", 50, "Timed training steps per model and repeat.")
flags.DEFINE_integer("repeats", 3, "Timed repetitions; the best is reported, the median beside.")
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


def gan_candidates(strategy, data):
    """The GANs timed: keras-io's step and tfgen's under the strategy, tfgen's on one device."""
    import keras  # noqa: PLC0415
    from _reference_gan import ReferenceGAN  # noqa: PLC0415

    from tfgen import architectures  # noqa: PLC0415
    from tfgen.models import GAN  # noqa: PLC0415

    def networks():
        keras.utils.set_random_seed(0)
        shape = (FLAGS.image_size, FLAGS.image_size, 1)
        return (
            architectures.dcgan_generator(shape, FLAGS.latent_dim, FLAGS.base_filters),
            architectures.dcgan_discriminator(shape, FLAGS.base_filters),
        )

    candidates = {}
    with strategy.scope():
        generator, discriminator = networks()
        reference = ReferenceGAN(discriminator, generator, FLAGS.latent_dim)
        reference.compile()
        # What the keras-io example needs to run under a strategy at all: its networks are
        # built (it has no `call` for Keras to build it with), and its optimizers are built
        # in the scope (Keras builds them in the first traced step, which a strategy refuses).
        reference.built = True
        reference.d_optimizer.build(discriminator.trainable_variables)
        reference.g_optimizer.build(generator.trainable_variables)
        candidates[REFERENCE] = (reference, data)
        tfgen_gan = GAN(*networks(), seed=0)
        tfgen_gan.compile()
        candidates[DEFAULT] = (tfgen_gan, data)
        # The same without XLA: what the per-replica XLA parts add under the strategy.
        without_xla = GAN(*networks(), seed=0)
        without_xla.compile(jit_compile=False)
        candidates[WITHOUT_XLA] = (without_xla, data)
    one_device = GAN(*networks(), seed=0)
    one_device.compile()
    candidates[ONE_DEVICE] = (one_device, data)
    return candidates


def autoencoder_candidates(strategy, data):
    """The denoising U-Nets timed: keras-io's "image denoising" recipe (a plain `keras.Model`
    compiled with Adam and the mean squared error, fit on noisy/clean pairs made beforehand)
    and tfgen's `Autoencoder` (noise drawn in its step) under the strategy, tfgen's on one
    device; the same U-Net, noise standard deviation and Adam learning rate."""
    import keras  # noqa: PLC0415

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
    candidates = {}
    with strategy.scope():
        reference = network()
        reference.compile(optimizer=keras.optimizers.Adam(DEFAULT_LEARNING_RATE), loss="mse")
        candidates[REFERENCE] = (reference, pairs)
        candidates[DEFAULT] = (tfgen_model(), data)
        candidates[WITHOUT_XLA] = (tfgen_model(jit_compile=False), data)
    candidates[ONE_DEVICE] = (tfgen_model(), data)
    return candidates


REFERENCE = "keras-io reference, 2 replicas"
DEFAULT = "tfgen (default), 2 replicas"
WITHOUT_XLA = "tfgen (no XLA), 2 replicas"
ONE_DEVICE = "tfgen (default), 1 device"


def main(_):
    devices = replica_devices()  # Before any other TensorFlow work.
    import numpy as np  # noqa: PLC0415
    from _gan_budget import interleaved_rates  # noqa: PLC0415

    import tfgen.data  # noqa: PLC0415

    pipeline = tfgen.data.load(
        "digits", image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, repeat=True, seed=0
    )
    batches = np.stack([np.array(batch) for batch in pipeline.take(50)])
    data = tf.data.Dataset.from_tensor_slices(batches).repeat().with_options(pipeline.options())
    strategy = tf.distribute.MirroredStrategy(devices)
    build = gan_candidates if FLAGS.model == "gan" else autoencoder_candidates
    candidates = build(strategy, data)

    print(
        f"{FLAGS.model}: {FLAGS.image_size}x{FLAGS.image_size} digits, global batch "
        f"{FLAGS.batch_size}, base_filters {FLAGS.base_filters}, {FLAGS.steps} steps x "
        f"{FLAGS.repeats} repeats, replicas on {', '.join(devices)}"
    )
    rates = interleaved_rates(candidates, FLAGS.steps, FLAGS.repeats)
    best = {name: max(values) for name, values in rates.items()}
    for name, (model, _) in candidates.items():
        decision = getattr(model, "jit_decision", None)
        jit = f"  jit_compile={model.jit_compile}" + (" (measured)" if decision else "")
        print(
            f"{name:34s} {best[name]:7.2f} steps/s (median {np.median(rates[name]):6.2f}), "
            f"{best[name] / best[REFERENCE]:4.2f}x the reference{jit}"
        )
    print(f"tfgen 2 replicas / 1 device: {best[DEFAULT] / best[ONE_DEVICE]:.2f}x")


if __name__ == "__main__":
    _common.run(main)
