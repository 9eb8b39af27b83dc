"""Training steps per second of tfgen's GAN against the keras-io reference and PyTorch.

All train the same DCGAN generator and discriminator on the bundled digits with the same
batch size: tfgen's `GAN` through `model.fit` with its default `jit_compile="auto"` (which
times both variants at the start of its first fit and keeps the faster) and with XLA forced
on and off; the keras-io reference (`benchmarks/_reference_gan.py`) through `model.fit`; and
PyTorch's DCGAN step on the same networks and weights (`benchmarks/_torch_dcgan.py`, skipped
with a note when torch is not installed), `torch.set_num_threads` set to the CPU count. With an
odd kernel (the builders' default 3), TensorFlow's 'same' padding at stride 2 is asymmetric:
PyTorch is timed both as an exact port (explicit pad and crop, checked against Keras' outputs)
and with torch's own symmetric padding (same shapes and cost); the faster is the peer.

Every model trains on the same 50 batches held in memory (PyTorch's as tensors, the Keras
models' as a `tf.data.Dataset` of them with the options `tfgen.data.load` sets), so the input
pipeline is not what is compared; one more row runs tfgen's default through `tfgen.data.load`,
which reads and resizes the digits as it trains. Each is timed in interleaved repeats: the
best repeat counts, the median is printed beside it (a shared machine slows some repeats).

    python benchmarks/gan_throughput.py [--image_size 16] [--batch_size 64] [--steps 200]
        [--repeats 5] [--kernel_size 3] [--negative_slope 0.2]
"""

import os

import _common
import keras
import numpy as np
import tensorflow as tf
from _gan_budget import interleaved_rates
from _reference_gan import ReferenceGAN
from absl import flags

import tfgen.data
from tfgen import architectures
from tfgen.models import GAN

FLAGS = flags.FLAGS
_common.define_warmup_flag()
flags.DEFINE_integer("image_size", 16, "Side of the (upscaled) digits.")
flags.DEFINE_integer("batch_size", 64, "Batch size of both models.")
flags.DEFINE_integer("latent_dim", 64, "Latent code size.")
flags.DEFINE_integer("base_filters", 32, "Width of both networks.")
flags.DEFINE_integer("steps", 200, "Timed training steps per model.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions; the best is reported, the median beside.")
flags.DEFINE_integer(
    "kernel_size", architectures.DCGAN_KERNEL_SIZE, "Kernel side of both networks (the default's)."
)
flags.DEFINE_float(
    "negative_slope",
    architectures.DCGAN_GENERATOR_NEGATIVE_SLOPE,
    "Slope of the generator's activations below zero (the default's; 0 for ReLU).",
)


def networks():
    keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    generator = architectures.dcgan_generator(
        shape,
        FLAGS.latent_dim,
        FLAGS.base_filters,
        kernel_size=FLAGS.kernel_size,
        negative_slope=FLAGS.negative_slope,
    )
    discriminator = architectures.dcgan_discriminator(
        shape, FLAGS.base_filters, kernel_size=FLAGS.kernel_size
    )
    return generator, discriminator


class TorchPeer:
    """PyTorch's step on copies of the Keras networks, timed like a Keras model's fit."""

    def __init__(self, generator, discriminator, batches, exact):
        import _torch_dcgan as torch_dcgan  # noqa: PLC0415
        import torch  # noqa: PLC0415  (optional dependency)

        torch.set_num_threads(os.cpu_count())
        torch.manual_seed(0)
        self.torch = torch
        z = np.random.default_rng(0).normal(size=(8, FLAGS.latent_dim)).astype("float32")
        torch_generator = torch_dcgan.to_torch(generator)
        torch_dcgan.check_same_outputs(generator, torch_generator, z)
        torch_discriminator = torch_dcgan.to_torch(discriminator)
        torch_dcgan.check_same_outputs(discriminator, torch_discriminator, generator(z))
        if not exact:  # checked above in the exact form; timed in torch's own padding
            torch_generator = torch_dcgan.to_torch(generator, exact=False)
            torch_discriminator = torch_dcgan.to_torch(discriminator, exact=False)
        self.gan = torch_dcgan.TorchDCGAN(torch_generator, torch_discriminator, FLAGS.latent_dim)
        # NHWC, as the Keras networks take them.
        self.batches = [torch.from_numpy(batch) for batch in batches]

    def fit(self, dataset, epochs, steps_per_epoch, verbose):
        del dataset, epochs, verbose
        for step in range(steps_per_epoch):
            losses = self.gan.train_step(self.batches[step % len(self.batches)])
        float(losses[0])  # wait for the last step


def main(_):
    pipeline = tfgen.data.load(
        "digits", image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, repeat=True, seed=0
    )
    batches = [np.array(batch) for batch in pipeline.take(50)]
    # With the options tfgen.data.load sets (tf.data's autotuner off, see tfgen.data.pipeline).
    in_memory = tf.data.Dataset.from_tensor_slices(np.stack(batches)).repeat()
    in_memory = in_memory.with_options(pipeline.options())
    candidates = {}
    generator, discriminator = networks()
    reference = ReferenceGAN(discriminator, generator, FLAGS.latent_dim)
    reference.compile()
    candidates["keras-io reference"] = (reference, in_memory)
    for jit in ("auto", False, True):
        generator, discriminator = networks()
        gan = GAN(generator, discriminator, seed=0)
        gan.compile(jit_compile=jit)
        label = "default, auto" if jit == "auto" else jit
        candidates[f"tfgen GAN (jit_compile={label})"] = (gan, in_memory)
    gan = GAN(*networks(), seed=0)
    gan.compile()
    candidates["tfgen GAN (default), data pipeline"] = (gan, pipeline)
    try:
        peer = TorchPeer(*networks(), batches, exact=True)
        candidates["PyTorch, same networks"] = (peer, None)
        if FLAGS.kernel_size % 2:  # odd kernels at stride 2: TensorFlow pads asymmetrically
            peer = TorchPeer(*networks(), batches, exact=False)
            candidates["PyTorch, torch's padding"] = (peer, None)
    except ImportError:
        print("torch is not installed (pip install torch): no PyTorch row.")

    print(
        f"{FLAGS.image_size}x{FLAGS.image_size} digits, batch {FLAGS.batch_size}, "
        f"base_filters {FLAGS.base_filters}, kernel {FLAGS.kernel_size}, generator slope "
        f"{FLAGS.negative_slope:g}, {FLAGS.steps} steps, on {_common.device()}"
    )
    rates = interleaved_rates(candidates, FLAGS.steps, FLAGS.repeats, FLAGS.warmup)
    for name, (model, _) in candidates.items():
        if "default" in name:
            decision = model.jit_decision
            print(f"{name}: jit_compile='auto' chose {dict(decision) if decision else 'nothing'}")
    best = {name: max(values) for name, values in rates.items()}
    median = {name: float(np.median(values)) for name, values in rates.items()}
    baseline = best["keras-io reference"]
    # The faster PyTorch form is the peer.
    torch_rate = max((rate for name, rate in best.items() if "PyTorch" in name), default=None)
    print(f"steps/s: best (median) of {FLAGS.repeats} repeats; ratios of the best")
    for name, rate in best.items():
        versus = f"   {rate / torch_rate:5.2f}x PyTorch's best" if torch_rate else ""
        print(
            f"{name:38s} {rate:6.1f} ({median[name]:5.1f})   "
            f"{rate / baseline:5.2f}x the reference{versus}"
        )


if __name__ == "__main__":
    _common.run(main)
