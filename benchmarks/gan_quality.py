"""Sample quality of tfgen's defaults against the keras-io example at equal wall clock.

Three GANs train on the bundled digits (8x8 by default, `--image_size 16`): tfgen's
`GAN(dcgan_generator(shape), dcgan_discriminator(shape))` with `compile()`'s defaults, the
keras-io example "DCGAN overriding train_step" with its own networks and Adam(1e-4)
(`reference_gan.keras_io_networks`), and the example's training step on tfgen's default
networks. Equal wall clock on a shared machine: all three are timed side by side first
(`_gan_budget.py`: best of interleaved rounds, in CPU time per core, the wall clock of a machine
to itself) and the budget becomes a fixed step count for each, so the scores do not depend on
the load during training. Quality is measured with
`tfgen.metrics` in the features of the shipped digits classifier (`digits_features`): Fréchet
distance (FID), kernel distance (KID) and precision/recall of generated samples against the
held-out digits; real training digits and uniform noise give the scale. And by the independent
judge (`digits_judge.py`), of the first 500 samples, beside its floor (500 held-out real
digits): the "judge" column and its ratio to the floor.

    PYTHONPATH=. python benchmarks/gan_quality.py [--seconds 30 | --reference_epochs 100]
        [--runs 2] [--image_size 8] [--models NAME,...]
"""

import _common
import keras
import numpy as np
from _common import digits, scores
from _gan_budget import budget_steps, step_seconds
from _reference_gan import KERAS_IO_LEARNING_RATE, ReferenceGAN, keras_io_networks
from absl import app, flags
from digits_judge import HELD_OUT, MAX_ITER, DigitsJudge

import tfgen.data
import tfgen.metrics
from tfgen import architectures
from tfgen.models import GAN

FLAGS = flags.FLAGS
flags.DEFINE_integer("judge_max_iter", MAX_ITER, "Training iterations of the judge's classifier.")
_common.define_warmup_flag()
flags.DEFINE_float("seconds", 30.0, "Training budget of each GAN, in seconds of wall clock.")
flags.DEFINE_integer(
    "reference_epochs",
    None,
    "If set, the budget is the time the keras-io example's networks take for this many epochs "
    "of the training digits (the issue's comparison: 100), instead of --seconds.",
)
flags.DEFINE_float("round_seconds", 3.0, "Length of a timing round per GAN (3 rounds).")
flags.DEFINE_integer("image_size", 8, "Side of the digits the GANs make.")
flags.DEFINE_integer("batch_size", 64, "Batch size of both GANs.")
flags.DEFINE_integer(
    "latent_dim", None, "Latent size of tfgen's networks (default: the builder's)."
)
flags.DEFINE_integer("base_filters", None, "Width of tfgen's networks (default: the builders').")
flags.DEFINE_integer("samples", 1000, "Generated samples scored per model.")
flags.DEFINE_integer("seed", 0, "Seed of the noise images.")
flags.DEFINE_list("models", [], "Train only these of the GANs (names); default all.")
flags.DEFINE_integer("runs", 2, "Training runs (seeds) of each GAN; the distance varies a lot.")


def tfgen_networks(seed):
    keras.utils.set_random_seed(seed)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    width = {} if FLAGS.base_filters is None else {"base_filters": FLAGS.base_filters}
    latent = {} if FLAGS.latent_dim is None else {"latent_dim": FLAGS.latent_dim}
    return (
        architectures.dcgan_generator(shape, **latent, **width),
        architectures.dcgan_discriminator(shape, **width),
    )


def tfgen_defaults(seed):
    gan = GAN(*tfgen_networks(seed), seed=seed)
    gan.compile()
    return gan


def keras_io_example(seed):
    keras.utils.set_random_seed(seed)
    generator, discriminator = keras_io_networks((FLAGS.image_size, FLAGS.image_size, 1))
    gan = ReferenceGAN(discriminator, generator, generator.input_shape[-1])
    gan.compile(
        keras.optimizers.Adam(KERAS_IO_LEARNING_RATE), keras.optimizers.Adam(KERAS_IO_LEARNING_RATE)
    )
    return gan


def keras_io_training(seed):
    generator, discriminator = tfgen_networks(seed)
    gan = ReferenceGAN(discriminator, generator, generator.input_shape[-1])
    gan.compile()
    return gan


MODELS = {
    "keras-io networks and training": keras_io_example,
    "keras-io training, tfgen networks": keras_io_training,
    "tfgen defaults": tfgen_defaults,
}


KEYS = ("judge", "fid", "kid", "precision", "recall")


def main(_):
    train_images, test_images = (digits(split, FLAGS.image_size) for split in ("train", "test"))
    extractor = tfgen.metrics.digits_features()
    judge = DigitsJudge(max_iter=FLAGS.judge_max_iter)
    judged = min(FLAGS.samples, HELD_OUT)
    judge_floor = judge.floor(judged, FLAGS.image_size)
    print(f"judge floor ({judged} held-out real digits): {judge_floor:.3f}")

    def score(images_in_minus_one_one):
        values = scores(test_images, images_in_minus_one_one, extractor)
        images = np.clip((images_in_minus_one_one[:judged] + 1) / 2, 0.0, 1.0)
        return {"judge": judge.distance(images), **values}

    def line(values):
        return "  ".join(f"{key} {values[key]:.4g}" for key in KEYS)

    rng = np.random.default_rng(FLAGS.seed)
    noise = rng.uniform(-1, 1, (FLAGS.samples,) + test_images.shape[1:]).astype(np.float32)
    print(f"real training digits: {line(score(train_images[: FLAGS.samples]))}")
    print(f"uniform noise:        {line(score(noise))}")

    def data(seed):
        return tfgen.data.load(
            "digits",
            image_size=FLAGS.image_size,
            batch_size=FLAGS.batch_size,
            repeat=True,
            seed=seed,
        )

    models = {
        name: build for name, build in MODELS.items() if not FLAGS.models or name in FLAGS.models
    }
    if FLAGS.reference_epochs and "keras-io networks and training" not in models:
        raise app.UsageError(
            "--reference_epochs times the keras-io networks: keep them in --models"
        )
    builders = {name: (lambda build=build: build(1000)) for name, build in models.items()}
    seconds = step_seconds(
        builders, data(1000), warmup=FLAGS.warmup, round_seconds=FLAGS.round_seconds
    )
    budget = FLAGS.seconds
    if FLAGS.reference_epochs:
        epoch_steps = -(-len(train_images) // FLAGS.batch_size)
        reference = seconds["keras-io networks and training"]
        budget = FLAGS.reference_epochs * epoch_steps * reference
        print(
            f"budget: {FLAGS.reference_epochs} epochs of {epoch_steps} steps of the keras-io "
            f"networks = {budget:.0f} s"
        )
    steps = budget_steps(seconds, budget)
    for name in models:
        print(f"{name:34s} {1e3 * seconds[name]:7.1f} ms/step -> {steps[name]} steps", flush=True)
    results = {name: [] for name in models}
    for run in range(FLAGS.runs):
        for name, build in models.items():
            model = build(run)
            model.fit(data(run), epochs=1, steps_per_epoch=steps[name], verbose=0)
            values = score(np.asarray(model.generate(FLAGS.samples, seed=run)) * 2 - 1)
            results[name].append(values)
            print(f"run {run}: {name:34s} {steps[name]:6d} steps   {line(values)}", flush=True)
    for name, runs in results.items():
        summary = "  ".join(
            f"{key} {np.mean([r[key] for r in runs]):.4g} +- {np.std([r[key] for r in runs]):.2g}"
            for key in KEYS
        )
        ratio = np.mean([r["judge"] for r in runs]) / judge_floor
        print(f"{name:34s} {summary}  (judge {ratio:.1f}x its floor)")


if __name__ == "__main__":
    _common.run(main)
