"""Restoration quality on photographs that no training crop comes from.

Training crops are `tfgen.data.load("photos", image_size=32)`: random 64x64 crops (flipped and
turned, new every epoch) of the seven training photographs of `tfgen.data.photos`, resized
to 32x32; the test crops are its `split="test"`: the 154 non-overlapping 64x64 tiles of the
held-out photographs grace_hopper, coffee and chelsea, resized to 32x32 (antialiased). One U-Net
(`tfgen.architectures.unet`, residual output, `--filters` wide and `--depth` deep) per task
trains for `--steps` steps of batch `--batch_size` with the `--loss` (l1 by default) through
`tfgen.models.Autoencoder(None, unet)`; each test crop is corrupted once with a fixed seed and
every method sees the same corrupted crops.

Tasks and baselines, in the same run:
* denoising, Gaussian noise of stddev 0.1 on [0, 1]: the noisy input; a Gaussian blur with the
  sigma that scores best on the test crops themselves (an oracle choice, which favours the
  baseline); scikit-image's `denoise_nl_means` (Buades et al. 2005), `denoise_tv_chambolle`
  (Chambolle 2004) and `denoise_wavelet` (BayesShrink), each with its oracle parameter; BM3D
  (Dabov et al. 2007, the `bm3d` package) told the true noise level; the `blind_spot` task
  (beside `denoise`) adds a U-Net trained on the noisy crops only (`objective="blind_spot"`);
* inpainting, 25 % of the pixels masked in 4x4 blocks: the masked input, mean fill and blur
  fill (normalised convolution, Knutsson & Westin 1993) with the best sigma, and OpenCV's
  `cv2.inpaint` (Telea 2004) with the best radius; the U-Net finds the holes, starts from their
  blur fill of sigma `--blur_fill` (0: from the holes' fill value) and learns the correction;
* super-resolution x2 and x4 (`Downsample`, bicubic): bicubic upsampling, which is the
  corrupted input itself;
* deblurring, Gaussian blur of sigma 1.5: the blurred input; unsharp masking and a Wiener
  filter (Wiener 1949) that knows the exact blur kernel, each with the amount / noise-to-signal
  ratio that scores best on the test crops;
* JPEG at quality 10 and 20 (one model trained on qualities drawn from `--jpeg_qualities`,
  by default [10, 20], with `--permute_channels` of the training images in a random channel
  order): the compressed input, and a Gaussian blur with the best sigma; `--self_ensemble`
  adds the U-Net averaged over flips and turns (`architectures.self_ensemble`), and
  `--trace_every` prints the gains on the held-out crops and on crops of the training
  photographs through training;
* the deep image prior (`tfgen.reconstruct.deep_image_prior`, Ulyanov et al. 2018) on one 64x64
  crop of the held-out grace_hopper, for denoising and inpainting, against the same baselines and
  the trained U-Net applied to the whole crop.

PSNR (dB) and SSIM on [0, 1] images (`tf.image.psnr`/`ssim`, max_val=1, 11x11 window), averaged
over the test crops. A figure (input / baseline / tfgen / clean, one row per task) is written to
`--figure`.

The peers are the `bench` extra: `pip install -e .[bench]` (scikit-image, bm3d,
opencv-python-headless).

Usage:
    python benchmarks/restoration.py [--steps 300] [--filters 16] [--depth 2] [--dip_steps 600]
        [--tasks denoise,blind_spot,inpaint,sr2,sr4,deblur,jpeg,dip] [--train_data photos]
        [--permute_channels 0.5] [--self_ensemble dihedral] [--trace_every 500]
"""

from __future__ import annotations

import time

import _common
import keras
import numpy as np
import scipy.ndimage
import tensorflow as tf
from _classical import blur, blur_fill, mean_fill, scores, table
from absl import flags

import tfgen.data
from tfgen import architectures, corruptions, plot, reconstruct
from tfgen.data import photos
from tfgen.models.autoencoder import Autoencoder
from tfgen.optimizers import Adam
from tfgen.runs.reconstruction import RESTORATION_LEARNING_RATE

SIDE = 32
SCALE = 2  # crops of SCALE * SIDE pixels, averaged down to SIDE
TEST_PHOTO = "grace_hopper"  # of the deep image prior's crop
NOISE_STDDEV = 0.2  # [-1, 1] units: 0.1 on [0, 1]
MASK_FRACTION, MASK_PATCH = 0.25, 4
BLUR_SIGMA = 1.5
JPEG_QUALITIES = (10, 20)
SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
UNSHARP_AMOUNTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
WIENER_RATIOS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
EVAL_SEED = 12345
FILTERS = 16  # of the U-Nets' full-resolution level (--filters)


FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 300, "Training steps of each task's U-Net.")
flags.DEFINE_integer("batch_size", 16, "Crops per training batch.")
flags.DEFINE_float(
    "learning_rate", RESTORATION_LEARNING_RATE, "Adam's initial learning rate (cosine decay)."
)
flags.DEFINE_integer("dip_steps", 600, "Steps of each deep image prior fit.")
flags.DEFINE_integer("seed", 0, "Seed of the weights, the training crops and the corruptions.")
flags.DEFINE_integer(
    "bm3d_crops",
    20,
    "About this many test crops are denoised by BM3D (every k-th crop); 0: no BM3D at all.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "test_crops",
    0,
    "Score on the first this many test crops only (a quick run); 0: all of them.",
    lower_bound=0,
)
flags.DEFINE_string("loss", "l1", "l1, l2 or ssim.")
flags.DEFINE_integer("filters", FILTERS, "Base filters of the U-Nets.")
flags.DEFINE_float(
    "blur_fill", 1.5, "inpainting: sigma of the U-Net's normalised-convolution fill (0: none)."
)
flags.DEFINE_integer("depth", 2, "The U-Nets' down-sampling steps.")
flags.DEFINE_string(
    "train_data",
    "photos",
    "The training crops, a `tfgen.data.load` name: 'photos' (64x64 crops), or a crop range "
    "'photos/crop64-128' (scale augmentation, crops shrunk to 64).",
)
flags.DEFINE_float(
    "permute_channels",
    0.0,
    "jpeg: the probability that a training image shows its colour channels in a random order "
    "(`tfgen.data.with_permuted_channels`); 0: never.",
    lower_bound=0.0,
    upper_bound=1.0,
)
flags.DEFINE_list("jpeg_qualities", ["10", "20"], "jpeg: the range of training qualities.")
flags.register_validator(
    "jpeg_qualities",
    lambda v: len(v) == 2 and all(q.isdigit() for q in v),
    "--jpeg_qualities must be two ints, low,high",
)
flags.DEFINE_multi_enum(
    "self_ensemble",
    [],
    list(architectures.TRANSFORMS),
    "jpeg: also score `architectures.self_ensemble(unet, transforms)` of the trained U-Net, "
    "for each transforms given (repeat the flag for both).",
)
flags.DEFINE_integer(
    "trace_every",
    0,
    "jpeg: every this many steps, print the gain over the compressed input at each test "
    "quality on the held-out crops and on as many fixed crops of the training photographs "
    "(0: never).",
)
flags.DEFINE_string("figure", "docs/restoration.png", "Where the figure is written.")
flags.DEFINE_string(
    "tasks", "denoise,blind_spot,inpaint,sr2,sr4,deblur,jpeg,dip", "Comma-separated tasks."
)


def crops(names, count, side, seed):
    """`count` random crops of SCALE * side pixels from the named photos, averaged to side."""
    rng = np.random.default_rng(seed)
    big = SCALE * side
    out = []
    for i in range(count):
        photo = photos.photographs()[names[i % len(names)]]
        y = rng.integers(0, photo.shape[0] - big + 1)
        x = rng.integers(0, photo.shape[1] - big + 1)
        patch = photo[y : y + big, x : x + big].astype(np.float32) / 127.5 - 1.0
        out.append(patch.reshape(side, SCALE, side, SCALE, 3).mean(axis=(1, 3)))
    return np.stack(out).astype(np.float32)


def best_of(clean, make, values):
    """(value, psnr, ssim) of the value whose restoration scores the best PSNR."""
    return max(((v, *scores(clean, make(v))) for v in values), key=lambda r: r[1])


def unsharp(images, amount, sigma=BLUR_SIGMA):
    return images + amount * (images - blur(images, sigma))


def wiener(images, ratio, sigma=BLUR_SIGMA):
    """Wiener deconvolution of a known Gaussian blur: X = conj(H) Y / (|H|^2 + ratio).

    The image is mirrored to 2H x 2W, whose periodic extension is the reflect-mode extension
    that `GaussianBlur` uses, so the circular convolution model is exact up to the kernel's
    truncation.
    """
    n, h, w, _ = images.shape
    mirrored = np.concatenate([images, images[:, ::-1]], axis=1)
    mirrored = np.concatenate([mirrored, mirrored[:, :, ::-1]], axis=2)
    impulse = np.zeros((1, 2 * h, 2 * w, 1), np.float32)
    impulse[0, 0, 0, 0] = 1.0
    psf = scipy.ndimage.gaussian_filter(impulse, (0, sigma, sigma, 0), mode="wrap")
    otf = np.fft.fft2(psf, axes=(1, 2))
    spectrum = np.fft.fft2(mirrored, axes=(1, 2))
    restored = np.fft.ifft2(np.conj(otf) * spectrum / (np.abs(otf) ** 2 + ratio), axes=(1, 2))
    return restored.real[:, :h, :w].astype(np.float32)


def to_unit(images):
    return np.clip((np.asarray(images, np.float64) + 1.0) / 2.0, 0.0, 1.0)


def from_unit(images):
    return (2.0 * np.asarray(images, np.float32) - 1.0).astype(np.float32)


def scikit_image_denoisers(clean, noisy):
    """[(label, (psnr, ssim), images)] of scikit-image's three denoisers, oracle parameters."""
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    unit = to_unit(noisy)
    sigma = NOISE_STDDEV / 2.0

    def each(fn):
        return from_unit(np.stack([fn(image) for image in unit]))

    candidates = {
        "nl_means (h = {} sigma)": (
            lambda h: each(
                lambda im: denoise_nl_means(
                    im,
                    h=h * sigma,
                    sigma=sigma,
                    patch_size=5,
                    patch_distance=6,
                    fast_mode=True,
                    channel_axis=-1,
                )
            ),
            (0.4, 0.5, 0.6, 0.8, 1.0),
        ),
        "tv_chambolle (weight {})": (
            lambda w: each(lambda im: denoise_tv_chambolle(im, weight=w, channel_axis=-1)),
            (0.04, 0.06, 0.08, 0.1, 0.14),
        ),
        "wavelet, BayesShrink (sigma x {})": (
            lambda f: each(
                lambda im: denoise_wavelet(
                    im,
                    sigma=f * sigma,
                    method="BayesShrink",
                    mode="soft",
                    channel_axis=-1,
                    convert2ycbcr=True,
                    rescale_sigma=True,
                )
            ),
            (0.75, 1.0, 1.5),
        ),
    }
    rows = []
    for label, (make, values) in candidates.items():
        value, *result = best_of(clean, make, values)
        rows.append((f"scikit-image {label.format(value)}", tuple(result), make(value)))
    return rows


def bm3d_denoise(noisy):
    """BM3D of each image, told the true noise standard deviation (on [0, 1])."""
    import bm3d

    sigma = NOISE_STDDEV / 2.0
    return from_unit(np.stack([bm3d.bm3d_rgb(image, sigma) for image in to_unit(noisy)]))


def bm3d_rows(test, noisy, restored, crops):
    """BM3D takes seconds per crop here: scored on every k-th crop, the U-Net beside it."""
    subset = slice(None, None, max(1, len(test) // crops))
    start = time.time()
    by_bm3d = bm3d_denoise(noisy[subset])
    table(
        f"Denoising, the same on {len(by_bm3d)} of the crops (BM3D {time.time() - start:.0f} s)",
        [
            ("noisy input", scores(test[subset], noisy[subset])),
            ("BM3D (bm3d package, true sigma)", scores(test[subset], by_bm3d)),
            ("tfgen U-Net", scores(test[subset], restored[subset])),
        ],
    )


def opencv_inpaint(masked, known, radius):
    """OpenCV's Telea inpainting of each image (8-bit, as cv2.inpaint needs), known pixels kept."""
    import cv2

    out = []
    for image, keep in zip(to_unit(masked), known, strict=True):
        pixels = np.round(image * 255).astype(np.uint8)
        holes = (keep[..., 0] < 0.5).astype(np.uint8)
        out.append(cv2.inpaint(pixels, holes, radius, cv2.INPAINT_TELEA) / 255.0)
    filled = from_unit(np.stack(out))
    return known * masked + (1.0 - known) * filled


def train(network, corruption, data, args, callbacks=(), permute_channels=0.0):
    model = Autoencoder(None, network, corruption=corruption, loss=args.loss, seed=args.seed)
    return fit(model, data, args, callbacks, permute_channels)


def fit(model, data, args, callbacks=(), permute_channels=0.0):
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, args.steps)
    model.compile(Adam(schedule))
    dataset = tfgen.data.load(
        args.train_data, image_size=SIDE, batch_size=args.batch_size, repeat=True, seed=args.seed
    )
    if permute_channels:
        dataset = tfgen.data.with_permuted_channels(dataset, args.seed, permute_channels)
    start = time.time()
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=callbacks)
    return model, time.time() - start


class GainTrace(keras.callbacks.Callback):
    """Prints the mean PSNR gain of the network over its inputs, per named set, every k steps."""

    def __init__(self, network, sets, every, steps):
        super().__init__()
        self.network, self.sets, self.every, self.steps = network, sets, every, steps
        self.inputs = {name: scores(clean, inputs)[0] for name, (clean, inputs) in sets.items()}

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        if step % self.every and step != self.steps:
            return
        gains = [
            f"{name} {scores(clean, self.network.predict(inputs, verbose=0))[0] - before:+.2f}"
            for (name, (clean, inputs)), before in zip(
                self.sets.items(), self.inputs.values(), strict=True
            )
        ]
        print(
            f"step {step:5d}: training loss {logs['loss']:.5f}; dB over the input: "
            + ", ".join(gains),
            flush=True,
        )


def inpaint_options(args):
    """The inpainting U-Net's options: holes found by their fill value 0, blur-filled first."""
    return {"inpaint_fill": 0.0, "blur_fill": args.blur_fill or None}


def unet(filters, shape=(SIDE, SIDE, 3), depth=2, **options):
    return architectures.unet(shape, base_filters=filters, depth=depth, **options)


def main(argv):
    del argv
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")
    args = FLAGS
    tasks = args.tasks.split(",")

    keras.utils.set_random_seed(args.seed)
    train_crops = None  # drawn by tfgen.data.load("photos") inside `fit`
    held_out = tfgen.data.load(
        "photos",
        split="test",
        image_size=SIDE,
        batch_size=64,
        shuffle=False,
        drop_remainder=False,
    )
    test = np.concatenate([batch.numpy() for batch in held_out])
    if args.test_crops:
        test = test[: args.test_crops]
    print(
        f"Random training crops of {', '.join(photos.split_names('train'))}; {len(test)} test "
        f"crops of {', '.join(photos.HELD_OUT)} ({SIDE}x{SIDE}, resized from "
        f"{SCALE * SIDE}x{SCALE * SIDE}); "
        f"U-Net ({args.filters} filters, depth {args.depth}, residual), {args.steps} steps of "
        f"{args.batch_size}, Adam({args.learning_rate}) with cosine decay, {args.loss} loss"
    )
    figure = []  # rows of (input, baseline, tfgen, clean), one test crop each
    # The figure's crop: the most detailed one (largest pixel spread), where methods differ.
    shown = int(np.argmax(test.reshape(len(test), -1).std(axis=1)))

    def show(inputs, baseline, restored):
        figure.append(
            [inputs[shown], baseline[shown], np.clip(restored[shown], -1, 1), test[shown]]
        )

    models = {}
    if "denoise" in tasks:
        noise = corruptions.GaussianNoise(NOISE_STDDEV)
        noisy = noise(test, EVAL_SEED).numpy()
        keras.utils.set_random_seed(args.seed)
        model, seconds = train(unet(args.filters, depth=args.depth), noise, train_crops, args)
        models["denoise"] = model
        restored = model.predict(noisy, batch_size=100, verbose=0)
        blind_rows = []
        if "blind_spot" in tasks:
            # Self-supervised: the same crops, but only their noisy versions are ever targets.
            keras.utils.set_random_seed(args.seed)
            blind = Autoencoder(
                None,
                unet(args.filters, depth=args.depth, residual=False),
                corruption=noise,
                objective="blind_spot",
                loss="l2",
                seed=args.seed,
            )
            blind, blind_seconds = fit(blind, train_crops, args)
            models["blind_spot"] = blind
            by_blind = blind.predict(noisy, batch_size=100, verbose=0)
            blind_rows.append(
                (
                    f"tfgen U-Net, blind spot, noisy data only ({blind_seconds:.0f} s)",
                    scores(test, by_blind),
                )
            )
        sigma, *blurred = best_of(test, lambda s: blur(noisy, s), SIGMAS)
        peers = scikit_image_denoisers(test, noisy)
        table(
            f"Denoising, noise stddev 0.1 on [0, 1] (U-Net {seconds:.0f} s of training)",
            [
                ("noisy input", scores(test, noisy)),
                (f"Gaussian blur (best sigma {sigma})", tuple(blurred)),
                *[(label, result) for label, result, _ in peers],
                *blind_rows,
                ("tfgen U-Net", scores(test, restored)),
            ],
        )
        if args.bm3d_crops:
            bm3d_rows(test, noisy, restored, args.bm3d_crops)
        show(noisy, peers[0][2], restored)

    if "inpaint" in tasks:
        mask = corruptions.RandomMask(MASK_FRACTION, MASK_PATCH)
        masked = mask(test, EVAL_SEED).numpy()
        known = mask.mask(test, EVAL_SEED).numpy()
        keras.utils.set_random_seed(args.seed)
        # The mask-aware U-Net: holes as an input channel, blur-filled, known pixels kept.
        model, seconds = train(
            unet(args.filters, depth=args.depth, **inpaint_options(args)), mask, train_crops, args
        )
        models["inpaint"] = model
        restored = model.predict(masked, batch_size=100, verbose=0)
        pasted = known * masked + (1.0 - known) * restored
        sigma, *filled = best_of(test, lambda s: blur_fill(masked, known, s), SIGMAS)
        radius, *telea = best_of(test, lambda r: opencv_inpaint(masked, known, r), (1, 2, 3, 5))
        table(
            f"Inpainting, {MASK_FRACTION:.0%} masked in {MASK_PATCH}x{MASK_PATCH} blocks "
            f"(measured {1 - known.mean():.1%}; {seconds:.0f} s of training)",
            [
                ("masked input (grey fill)", scores(test, masked)),
                ("mean fill", scores(test, mean_fill(masked, known))),
                (f"blur fill (best sigma {sigma})", tuple(filled)),
                (f"OpenCV inpaint, Telea (best radius {radius})", tuple(telea)),
                ("tfgen U-Net, known pixels kept", scores(test, pasted)),
            ],
        )
        show(masked, blur_fill(masked, known, sigma), pasted)

    for factor in (2, 4):
        if f"sr{factor}" not in tasks:
            continue
        down = corruptions.Downsample(factor)
        bicubic = down(test).numpy()
        keras.utils.set_random_seed(args.seed)
        model, seconds = train(unet(args.filters, depth=args.depth), down, train_crops, args)
        restored = model.predict(bicubic, batch_size=100, verbose=0)
        table(
            f"Super-resolution x{factor} ({seconds:.0f} s of training)",
            [("bicubic", scores(test, bicubic)), ("tfgen U-Net", scores(test, restored))],
        )
        small = tf.image.resize(test, [SIDE // factor] * 2, "bicubic", antialias=True)
        show(tf.image.resize(small, [SIDE, SIDE], "nearest").numpy(), bicubic, restored)

    if "deblur" in tasks:
        smear = corruptions.GaussianBlur(BLUR_SIGMA)
        blurred = smear(test).numpy()
        keras.utils.set_random_seed(args.seed)
        model, seconds = train(unet(args.filters, depth=args.depth), smear, train_crops, args)
        restored = model.predict(blurred, batch_size=100, verbose=0)
        amount, *sharpened = best_of(test, lambda a: unsharp(blurred, a), UNSHARP_AMOUNTS)
        ratio, *deconvolved = best_of(test, lambda r: wiener(blurred, r), WIENER_RATIOS)
        table(
            f"Deblurring, Gaussian blur sigma {BLUR_SIGMA} ({seconds:.0f} s of training)",
            [
                ("blurred input", scores(test, blurred)),
                (f"unsharp mask (best amount {amount})", tuple(sharpened)),
                (f"Wiener filter, known kernel (best ratio {ratio:g})", tuple(deconvolved)),
                ("tfgen U-Net", scores(test, restored)),
            ],
        )
        show(blurred, wiener(blurred, ratio), restored)

    if "jpeg" in tasks:
        jpeg_rows(args, test, show)

    write_figure(figure, args.figure)
    if "dip" in tasks:
        dip_figure = []
        deep_image_prior_rows(args, models, dip_figure)
        write_figure(dip_figure, args.figure.replace(".png", "_dip.png"))


def jpeg_rows(args, test, show):
    """The JPEG task: one U-Net trained on qualities drawn from `--jpeg_qualities`, scored at
    each of JPEG_QUALITIES (and its self-ensemble with `--self_ensemble`)."""
    low, high = (int(q) for q in args.jpeg_qualities)
    compressed = {q: corruptions.JPEG(q)(test, EVAL_SEED).numpy() for q in JPEG_QUALITIES}
    keras.utils.set_random_seed(args.seed)
    network = unet(args.filters, depth=args.depth)
    callbacks = []
    if args.trace_every:
        # Fixed crops of the training photographs, as many as the test crops, to set beside them.
        seen = next(iter(tfgen.data.load("photos", image_size=SIDE, batch_size=len(test), seed=7)))
        seen = seen.numpy()
        sets = {}
        for q in JPEG_QUALITIES:
            sets[f"held-out q{q}"] = (test, compressed[q])
            sets[f"training photographs q{q}"] = (seen, corruptions.JPEG(q)(seen, EVAL_SEED))
        callbacks.append(GainTrace(network, sets, args.trace_every, args.steps))
    model, seconds = train(
        network, corruptions.JPEG((low, high)), None, args, callbacks, args.permute_channels
    )
    ensembles = {t: architectures.self_ensemble(model.decoder, t) for t in args.self_ensemble}
    for quality in JPEG_QUALITIES:
        inputs = compressed[quality]
        restored = model.predict(inputs, batch_size=100, verbose=0)
        sigma, *blurred = best_of(test, lambda s, c=inputs: blur(c, s), SIGMAS[:4])
        rows = [
            ("compressed input", scores(test, inputs)),
            (f"Gaussian blur (best sigma {sigma})", tuple(blurred)),
            ("tfgen U-Net", scores(test, restored)),
        ]
        for transforms, ensemble in ensembles.items():
            by_ensemble = ensemble.predict(inputs, batch_size=100, verbose=0)
            rows.append((f"tfgen U-Net, self-ensemble ({transforms})", scores(test, by_ensemble)))
        table(
            f"JPEG quality {quality} (model trained on qualities {low}-{high}, crops "
            f"{args.train_data}, channels permuted with probability {args.permute_channels}, "
            f"{seconds:.0f} s of training)",
            rows,
        )
    show(inputs, blur(inputs, sigma), restored)


def write_figure(figure, path):
    if figure:
        tiles = np.clip(np.stack([tile for row in figure for tile in row]), -1.0, 1.0)
        plot.image_grid((tiles + 1.0) / 2.0, path, columns=4)
        print(
            f"\nFigure: {path} (rows: the tasks above in order; columns: input / best "
            "baseline / tfgen / clean)"
        )


def deep_image_prior_rows(args, models, figure):
    side = 2 * SIDE
    clean = crops((TEST_PHOTO,), 1, side, seed=3)
    unit = (clean[0] + 1.0) / 2.0
    noise = corruptions.GaussianNoise(NOISE_STDDEV)
    mask = corruptions.RandomMask(MASK_FRACTION, MASK_PATCH)
    noisy = noise(clean, EVAL_SEED).numpy()
    masked = mask(clean, EVAL_SEED).numpy()
    known = mask.mask(clean, EVAL_SEED).numpy()

    def trained(task, images):
        """The task's trained U-Net, rebuilt for the larger crop (fully convolutional)."""
        if task not in models:
            return None
        options = inpaint_options(args) if task == "inpaint" else {}
        network = unet(args.filters, (side, side, 3), args.depth, **options)
        network.set_weights(models[task].decoder.get_weights())
        return network(images).numpy()

    rows = {}
    for task, degraded, options in (
        ("denoise", noisy, {}),
        ("inpaint", masked, {"mask": known[0]}),
    ):
        start = time.time()
        result = reconstruct.deep_image_prior(
            (degraded[0] + 1.0) / 2.0, steps=args.dip_steps, clean=unit, seed=args.seed, **options
        )
        seconds = time.time() - start
        rows[task] = (2.0 * result.image[None] - 1.0, seconds, result.psnr)
    sigma, *blurred = best_of(clean, lambda s: blur(noisy, s), SIGMAS)
    denoised, seconds, history = rows["denoise"]
    by_network = trained("denoise", noisy)
    by_blind = None
    if "blind_spot" in models:
        network = unet(args.filters, (side, side, 3), args.depth, residual=False)
        network.set_weights(models["blind_spot"].decoder.get_weights())
        by_blind = network(noisy).numpy()
    table(
        f"Deep image prior, denoising one {side}x{side} crop of {TEST_PHOTO} "
        f"({args.dip_steps} steps, {seconds:.0f} s; PSNR every 250 steps: "
        f"{', '.join(f'{v:.1f}' for k, v in history.items() if k % 250 == 0)})",
        [
            ("noisy input", scores(clean, noisy)),
            (f"Gaussian blur (best sigma {sigma})", tuple(blurred)),
            *(
                [("trained tfgen U-Net (denoising above)", scores(clean, by_network))]
                if by_network is not None
                else []
            ),
            *(
                [("blind-spot tfgen U-Net (noisy data only)", scores(clean, by_blind))]
                if by_blind is not None
                else []
            ),
            ("deep image prior", scores(clean, denoised)),
        ],
    )
    figure.append([noisy[0], blur(noisy, sigma)[0], denoised[0], clean[0]])
    inpainted, seconds, history = rows["inpaint"]
    kept = known * masked + (1 - known) * inpainted
    sigma, *filled = best_of(clean, lambda s: blur_fill(masked, known, s), SIGMAS)
    by_network = trained("inpaint", masked)
    pasted = None if by_network is None else known * masked + (1 - known) * by_network
    table(
        f"Deep image prior, inpainting the same crop ({args.dip_steps} steps, {seconds:.0f} s)",
        [
            ("masked input", scores(clean, masked)),
            (f"blur fill (best sigma {sigma})", tuple(filled)),
            *(
                [("trained tfgen U-Net, known pixels kept", scores(clean, pasted))]
                if pasted is not None
                else []
            ),
            ("deep image prior, known pixels kept", scores(clean, kept)),
        ],
    )
    kept = known * masked + (1 - known) * inpainted
    figure.append([masked[0], blur_fill(masked, known, sigma)[0], kept[0], clean[0]])


if __name__ == "__main__":
    _common.run(main)
