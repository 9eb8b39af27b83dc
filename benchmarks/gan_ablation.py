"""Which DCGAN choices give the best digits in a fixed training budget: a one-factor ablation.

From a baseline (the builders' and `GAN.compile`'s defaults of the time), each variant changes
one choice: upsampling (transposed convolution or resize-then-convolve), batch norm in the
generator, the generator's activation (ReLU or LeakyReLU), kernel size, width
(`base_filters`), latent size, discriminator depth (`extra_convs`), learning rates, Adam's
betas, generator EMA and loss. Every variant gets the
same training budget, turned into a fixed step count per variant by timing all of them side
by side first (`_gan_budget.py`: best of interleaved rounds, in CPU time per core, the wall
clock of a machine to itself), so the result does not depend on the machine's load during
training. All variants run TensorFlow's kernels (`jit_compile=False`; `--jit_compile auto`
lets each take XLA when it steps faster, at the cost of compiling both per run). Each trains
with several seeds on the bundled digits and is scored by FID, KID and precision/recall in
the shipped digits classifier's features (1,000 samples against the 297 held-out digits, as
`gan_quality.py`). Last, a "winners" variant combines, per choice, the option with the lowest
mean FID (the baseline's when no variant beat it), timed against the baseline and trained in
the same budget.

    PYTHONPATH=. python benchmarks/gan_ablation.py --image_size 8 --seconds 5 --seeds 2
        [--baseline chosen] [--only "generator LeakyReLU 0.2"]
"""

import json

import _common
import keras
import numpy as np
from _common import digits, scores
from _gan_budget import budget_steps, step_seconds
from absl import flags

import tfgen.data
import tfgen.metrics
from tfgen import architectures, optimizers
from tfgen.models import GAN

FLAGS = flags.FLAGS
_common.define_warmup_flag()
flags.DEFINE_integer("image_size", 8, "Side of the digits.")
flags.DEFINE_float("seconds", 5.0, "Training budget of each run (see _gan_budget.py).")
flags.DEFINE_integer("seeds", 2, "Training runs (seeds) of each variant.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("samples", 1000, "Generated samples scored per run.")
flags.DEFINE_list("only", [], "Run only these variants (names), besides the baseline.")
flags.DEFINE_enum("jit_compile", "false", ["auto", "true", "false"], "GAN.compile's jit_compile.")
flags.DEFINE_float("round_seconds", 1.0, "Length of a timing round per variant.")
flags.DEFINE_integer("rounds", 2, "Timing rounds per variant; the best is kept.")
flags.DEFINE_string("output", "", "Write the per-run scores to this JSON file.")
flags.DEFINE_enum(
    "baseline",
    "original",
    ["original", "chosen"],
    "Vary one choice at a time from the defaults before the ablation (original) or from the "
    "ones it chose (chosen: kernel 3, width 32, betas (0, 0.9)).",
)

#: The builders' and compile's defaults before this ablation.
BASELINE = dict(
    upsampling="transpose",
    batch_norm=True,
    negative_slope=0.0,
    kernel_size=4,
    base_filters=64,
    latent_dim=128,
    extra_convs=0,
    g_lr=2e-4,
    d_lr=2e-4,
    betas=(0.5, 0.999),
    ema=None,
    loss="non_saturating",
)

#: The baseline after the first ablation: its three winners (kernel 3, width 32, betas (0, 0.9)),
#: the rest as BASELINE (`--baseline chosen`).
CHOSEN = dict(BASELINE, kernel_size=3, base_filters=32, betas=(0.0, 0.9))

#: (choice, variant name, overrides of the baseline).
VARIANTS = [
    ("upsampling", "nearest resize + conv", dict(upsampling="nearest")),
    ("upsampling", "bilinear resize + conv", dict(upsampling="bilinear")),
    ("batch norm", "no generator batch norm", dict(batch_norm=False)),
    ("activation", "generator LeakyReLU 0.2", dict(negative_slope=0.2)),
    ("kernel", "kernel 3", dict(kernel_size=3)),
    ("kernel", "kernel 5", dict(kernel_size=5)),
    ("width", "base_filters 32", dict(base_filters=32)),
    ("latent", "latent 64", dict(latent_dim=64)),
    ("depth", "discriminator extra_convs 1", dict(extra_convs=1)),
    ("learning rates", "lr 1e-4 both", dict(g_lr=1e-4, d_lr=1e-4)),
    ("learning rates", "TTUR g 1e-4 d 4e-4", dict(g_lr=1e-4, d_lr=4e-4)),
    ("betas", "betas (0, 0.9)", dict(betas=(0.0, 0.9))),
    ("ema", "EMA 0.99", dict(ema=0.99)),
    ("ema", "EMA 0.999", dict(ema=0.999)),
    ("loss", "hinge loss", dict(loss="hinge")),
]
KEYS = ("fid", "kid", "precision", "recall")


def build(config, seed):
    keras.utils.set_random_seed(seed)
    shape = (FLAGS.image_size, FLAGS.image_size, 1)
    generator = architectures.dcgan_generator(
        shape,
        config["latent_dim"],
        config["base_filters"],
        upsampling=config["upsampling"],
        batch_norm=config["batch_norm"],
        kernel_size=config["kernel_size"],
        negative_slope=config["negative_slope"],
    )
    discriminator = architectures.dcgan_discriminator(
        shape,
        config["base_filters"],
        kernel_size=config["kernel_size"],
        extra_convs=config["extra_convs"],
    )
    gan = GAN(generator, discriminator, seed=seed)
    beta_1, beta_2 = config["betas"]
    gan.compile(
        generator_optimizer=optimizers.Adam(config["g_lr"], beta_1=beta_1, beta_2=beta_2),
        discriminator_optimizer=optimizers.Adam(config["d_lr"], beta_1=beta_1, beta_2=beta_2),
        loss=config["loss"],
        generator_ema=config["ema"],
        jit_compile={"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile],
    )
    return gan


def training_data(seed):
    return tfgen.data.load(
        "digits",
        image_size=FLAGS.image_size,
        batch_size=FLAGS.batch_size,
        repeat=True,
        seed=seed,
    )


def summary(runs):
    return {
        key: (float(np.mean([r[key] for r in runs])), float(np.std([r[key] for r in runs])))
        for key in KEYS
    }


def table_row(name, steps, runs):
    s = summary(runs)
    cells = [f"{s['fid'][0]:.1f} ± {s['fid'][1]:.1f}", f"{s['kid'][0]:.0f} ± {s['kid'][1]:.0f}"]
    cells += [f"{s[k][0]:.2f} ± {s[k][1]:.2f}" for k in ("precision", "recall")]
    per_seed = " / ".join(f"{r['fid']:.1f}" for r in runs)
    return [name, steps, *cells, per_seed]


def main(_):
    test_images = digits("test", FLAGS.image_size)
    extractor = tfgen.metrics.digits_features()

    def score(gan, seed):
        images = np.asarray(gan.generate(FLAGS.samples, seed=seed)) * 2 - 1
        return scores(test_images, images, extractor)

    variants = [("baseline", "baseline", {})]
    variants += [v for v in VARIANTS if not FLAGS.only or v[1] in FLAGS.only]
    base = BASELINE if FLAGS.baseline == "original" else CHOSEN
    configs = {name: {**base, **overrides} for _, name, overrides in variants}
    timing_data = training_data(seed=1000)

    def builders(names):
        return {name: (lambda name=name: build(configs[name], seed=1000)) for name in names}

    seconds = step_seconds(
        builders(configs),
        timing_data,
        FLAGS.rounds,
        warmup=FLAGS.warmup,
        round_seconds=FLAGS.round_seconds,
    )
    steps = budget_steps(seconds, FLAGS.seconds)
    for name in configs:
        print(f"{name:32s} {1e3 * seconds[name]:6.1f} ms/step -> {steps[name]} steps", flush=True)

    results = {}

    def train_and_score(name):
        results[name] = []
        for seed in range(FLAGS.seeds):
            gan = build(configs[name], seed)
            gan.fit(training_data(seed), epochs=1, steps_per_epoch=steps[name], verbose=0)
            results[name].append(score(gan, seed))
            print(f"{name:32s} seed {seed}: fid {results[name][-1]['fid']:.1f}", flush=True)

    for name in configs:
        train_and_score(name)

    # Per choice, the option with the lowest mean FID; the baseline's unless a variant beat it.
    mean_fid = {name: summary(runs)["fid"][0] for name, runs in results.items()}
    winners = {}
    for choice in dict.fromkeys(choice for choice, _, _ in variants[1:]):
        options = [(name, o) for c, name, o in variants if c == choice]
        name, overrides = min(options, key=lambda option: mean_fid[option[0]])
        if mean_fid[name] < mean_fid["baseline"]:
            winners[choice] = (name, overrides)
    if winners:
        combined = {}
        for _, overrides in winners.values():
            combined.update(overrides)
        configs["winners combined"] = {**base, **combined}
        print("winners:", {choice: name for choice, (name, _) in winners.items()}, flush=True)
        # Timed against the baseline again; its steps scale the baseline's by the time ratio.
        again = step_seconds(
            builders(["baseline", "winners combined"]),
            timing_data,
            warmup=FLAGS.warmup,
            round_seconds=FLAGS.round_seconds,
        )
        ratio = again["baseline"] / again["winners combined"]
        steps["winners combined"] = max(1, round(steps["baseline"] * ratio))
        train_and_score("winners combined")

    print(
        f"\n{FLAGS.image_size}x{FLAGS.image_size} digits, {FLAGS.seconds:g} s per run, "
        f"{FLAGS.seeds} seeds"
    )
    _common.print_table(
        ["variant", "steps", "FID", "KID", "precision", "recall", "FID per seed"],
        [table_row(name, steps[name], runs) for name, runs in results.items()],
    )
    if winners:
        print("winners combined:", configs["winners combined"])
    if FLAGS.output:
        with open(FLAGS.output, "w") as file:
            json.dump(
                {
                    "configs": configs,
                    "steps": steps,
                    "seconds_per_step": seconds,
                    "results": results,
                },
                file,
                indent=1,
            )


if __name__ == "__main__":
    _common.run(main)
