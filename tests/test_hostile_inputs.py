"""Hostile and mistaken input, one row each: what a user or an attacker would try, and the one
clear error (type, and a message naming the argument or the file) it must get.

Most rows are in-process calls that fail before any work; the example scripts' rows start the
script and want one `error:` line on stderr (no traceback) and exit status 1. Rows that must be
accepted, or must warn, are tests of their own below the table.
"""

import io
import math
import os
import re
import struct
import subprocess
import sys
import types
import warnings
import zlib

import numpy as np
import pytest
import tensorflow as tf
from gan_setup import LATENT_DIM, SIDE, digit_images, make_gan
from PIL import Image
from test_examples import EXAMPLES, REPO, load_example, script_environment

import tfgen.data as tdata
from tfgen import (
    architectures,
    augment,
    callbacks,
    corruptions,
    export,
    losses,
    plot,
    pretrained,
    reconstruct,
    runs,
    stylize,
)
from tfgen import metrics as tm
from tfgen.data import headers, sources
from tfgen.models import GAN, Autoencoder
from tfgen.optimizers import Adam, ConjugateGradient, Nesterov

NAN, INF = math.nan, math.inf

train_gan = load_example("train_gan")
restore = load_example("restore")
train_reconstruction = load_example("train_reconstruction")
reconstruct_example = load_example("reconstruct")


# --- hostile files ------------------------------------------------------------------------------


def gif_declaring(screen, frame, frames=1):
    """A GIF of a few bytes whose logical screen is `screen` and each frame `frame` (w, h)."""
    data = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    for _ in range(frames):
        data += b"\x2c" + struct.pack("<HHHHB", 0, 0, *frame, 0) + b"\x02\x02\x4c\x01\x00"
    return data + b"\x3b"


def png_declaring(width, height):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def webp_declaring(width, height):
    """A lossless WebP whose header declares `width` x `height` (the pixels are not there)."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


class _Hostile(tf.Module):
    """A SavedModel whose serving function writes a file: a program, not weights."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    @tf.function(input_signature=[tf.TensorSpec([None, LATENT_DIM], tf.float32)])
    def serve(self, z):
        tf.io.write_file(self.marker, "written by a SavedModel")
        return {"images": tf.zeros([tf.shape(z)[0], SIDE, SIDE, 1])}


@pytest.fixture(scope="module")
def f(tmp_path_factory):
    """The files and objects the rows use, made once."""
    root = tmp_path_factory.mktemp("hostile")
    ns = types.SimpleNamespace(root=str(root))

    def folder(name, files):
        path = root / name
        path.mkdir()
        for file_name, data in files.items():
            (path / file_name).write_bytes(data)
        return str(path)

    ns.text = str(root / "notes.png")
    (root / "notes.png").write_text("this is not an image")
    ns.a_file = str(root / "a_file")
    (root / "a_file").write_text("a file where a folder should be")
    ns.gif_bomb = str(root / "bomb.gif")
    (root / "bomb.gif").write_bytes(gif_declaring((1, 1), (12000, 12000)))
    ns.png_bomb = str(root / "bomb.png")
    (root / "bomb.png").write_bytes(png_declaring(12000, 12000))
    ns.webp_bomb = str(root / "bomb.webp")
    (root / "bomb.webp").write_bytes(webp_declaring(16000, 16000))
    ns.empty_dir = folder("empty", {})
    ns.not_images = folder("not_images", {"a.png": b"text", "b.jpg": b"\xff\xd8 broken"})
    ns.gif_bombs = folder("gif_bombs", {"a.gif": gif_declaring((1, 1), (12000, 12000))})
    ns.animation_bombs = folder(
        "animation_bombs", {"a.gif": gif_declaring((1000, 1000), (1000, 1000), frames=100)}
    )
    ns.png_bombs = folder("png_bombs", {"a.png": png_declaring(12000, 12000)})
    ns.webp_bombs = folder("webp_bombs", {"a.png": webp_declaring(16000, 16000)})  # misnamed
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (200, 10, 10)).save(buffer, "PNG")
    ns.flat = folder("flat", {"a.png": buffer.getvalue(), "b.png": buffer.getvalue()})
    ns.keras_text = str(root / "fake.keras")
    (root / "fake.keras").write_text("not a zip archive")

    # Networks and models.
    gan = make_gan(filters=4)
    ns.gan = gan
    ns.generator = gan.generator
    ns.images = digit_images()[:4]
    ns.gan_file = str(root / "gan.keras")
    gan.save(ns.gan_file)
    ns.discriminator_file = str(root / "discriminator.keras")
    gan.discriminator.save(ns.discriminator_file)
    ns.generator5 = architectures.dcgan_generator(
        (SIDE, SIDE, 1), LATENT_DIM, base_filters=4, num_classes=5
    )
    ns.discriminator5 = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), base_filters=4, num_classes=5
    )
    ns.marker = str(root / "written_by_the_saved_model")
    ns.hostile_saved_model = str(root / "hostile_saved_model")
    hostile = _Hostile(ns.marker)
    tf.saved_model.save(
        hostile, ns.hostile_saved_model, signatures={"serving_default": hostile.serve}
    )
    ns.non_empty_dir = folder("non_empty", {"keep.txt": b"mine"})
    return ns


def _dataset_of(images):
    return tf.data.Dataset.from_tensor_slices(np.asarray(images, np.float32)).batch(2)


def _compiled_gan(f):
    f.gan.compile(jit_compile=False)
    return f.gan


def _from_generator(images, shape=None):
    def batches():
        yield np.asarray(images, np.float32)

    return tf.data.Dataset.from_generator(
        batches, output_signature=tf.TensorSpec(shape, tf.float32)
    )


def _train_gan(**settings):
    def call(f):
        output_dir = os.path.join(f.root, "runs", "_".join(map(str, settings.items())))
        return train_gan.train(output_dir=output_dir, **settings)

    return call


def _reconstruct(**settings):
    def call(f):
        arguments = dict(model=f.gan_file, images=f.flat, count=2, steps=1)
        arguments.update(settings, output=os.path.join(f.root, "reconstruction.png"))
        return reconstruct_example.reconstruct(**arguments)

    return call


def _restore(**settings):
    def call(f):
        arguments = {"image": "photo:china", "size": 8, "steps": 1, **settings}
        return restore.restore(output=os.path.join(f.root, "restore.png"), **arguments)

    return call


# --- the table ------------------------------------------------------------------------------------

V = ValueError  # tfgen raises ValueError for every bad argument (tfgen._checks)

# (id, call taking the fixture namespace, expected error, pattern the message must match)
ROWS = [
    # tfgen.data.load: sizes, counts, rates, names, folders and files.
    (
        "load image_size huge",
        lambda f: tdata.load("digits", image_size=65536),
        V,
        r"image_size=65536 asks for .* pixels",
    ),
    (
        "load image_size long side",
        lambda f: tdata.load("digits", image_size=(8, 10**9)),
        V,
        r"image_size=\(8, 1000000000\) asks for",
    ),
    ("load image_size 0", lambda f: tdata.load("digits", image_size=0), V, "image_size must be"),
    ("load image_size negative", lambda f: tdata.load("digits", image_size=-8), V, "image_size"),
    ("load image_size float", lambda f: tdata.load("digits", image_size=8.0), V, "image_size"),
    ("load image_size str", lambda f: tdata.load("digits", image_size="8"), V, "image_size"),
    (
        "load image_size triple",
        lambda f: tdata.load("digits", image_size=(8, 8, 8)),
        V,
        "image_size",
    ),
    ("load batch_size 0", lambda f: tdata.load("digits", batch_size=0), V, "batch_size"),
    ("load batch_size bool", lambda f: tdata.load("digits", batch_size=True), V, "batch_size"),
    (
        "load batch too large for memory",
        lambda f: tdata.load("digits", image_size=4096, batch_size=10**6),
        V,
        r"batch_size=1000000 images .* GiB",
    ),
    (
        "load batch larger than the data",
        lambda f: tdata.load("digits", batch_size=5000),
        V,
        r"batch_size=5000 is larger than the 1500 images",
    ),
    ("load channels 2", lambda f: tdata.load("digits", channels=2), V, "channels must be 1, 3"),
    (
        "load value_range reversed",
        lambda f: tdata.load("digits", value_range=(1, -1)),
        V,
        "value_range",
    ),
    (
        "load value_range nan",
        lambda f: tdata.load("digits", value_range=(0, NAN)),
        V,
        "value_range",
    ),
    ("load fit unknown", lambda f: tdata.load("digits", fit="stretch"), V, "fit must be one of"),
    ("load repeat negative", lambda f: tdata.load("digits", repeat=-1), V, "repeat"),
    ("load repeat float", lambda f: tdata.load("digits", repeat=1.5), V, "repeat"),
    ("load cache int", lambda f: tdata.load("digits", cache=3), V, "cache"),
    ("load download str", lambda f: tdata.load("digits", download="yes"), V, "download"),
    ("load seed float", lambda f: tdata.load("digits", seed=1.5), V, "seed"),
    ("load seed bool", lambda f: tdata.load("digits", seed=True), V, "seed"),
    ("load shuffle str", lambda f: tdata.load("digits", shuffle="no"), V, "shuffle must be a bool"),
    (
        "load shuffle_buffer 0",
        lambda f: tdata.load("digits", shuffle_buffer=0),
        V,
        "shuffle_buffer",
    ),
    (
        "load shuffle_buffer huge",
        lambda f: tdata.load("digits", shuffle_buffer=10**9),
        V,
        "shuffle_buffer must be at most",
    ),
    ("load max_pixels 0", lambda f: tdata.load("digits", max_pixels=0), V, "max_pixels"),
    ("load with_labels str", lambda f: tdata.load("digits", with_labels="yes"), V, "with_labels"),
    (
        "load split unknown",
        lambda f: tdata.load("digits", split="validation"),
        V,
        "split='validation'",
    ),
    (
        "load image_key not an image",
        lambda f: tdata.load("digits", image_key="label"),
        V,
        "image_key='label'",
    ),
    ("load name empty", lambda f: tdata.load(""), V, "name must be a non-empty string"),
    ("load name None", lambda f: tdata.load(None), V, "name must be a non-empty string"),
    ("load name unknown", lambda f: tdata.load("no_such_dataset_xyz"), V, "Unknown dataset"),
    (
        "load folder missing",
        lambda f: tdata.load("folder:/no/such/folder"),
        V,
        "is not a directory",
    ),
    ("load folder is a file", lambda f: tdata.load(f"folder:{f.a_file}"), V, "is not a directory"),
    ("load folder empty", lambda f: tdata.load(f"folder:{f.empty_dir}"), V, "no image files"),
    (
        "load folder of non-images",
        lambda f: tdata.load(f"folder:{f.not_images}"),
        V,
        "could be decoded",
    ),
    (
        "load folder of GIF bombs (frame > screen)",
        lambda f: tdata.load(f"folder:{f.gif_bombs}"),
        V,
        "within max_pixels",
    ),
    (
        "load folder of GIF bombs (many frames)",
        lambda f: tdata.load(f"folder:{f.animation_bombs}"),
        V,
        "within max_pixels",
    ),
    (
        "load folder of PNG bombs",
        lambda f: tdata.load(f"folder:{f.png_bombs}"),
        V,
        "within max_pixels",
    ),
    (
        "load folder of WebP bombs named .png",
        lambda f: tdata.load(f"folder:{f.webp_bombs}"),
        V,
        "within max_pixels",
    ),
    (
        "load folder labels without class folders",
        lambda f: tdata.load(f"folder:{f.flat}", with_labels=True),
        V,
        "one sub-folder per class",
    ),
    (
        "class_names folder missing",
        lambda f: tdata.class_names("folder:/no/such"),
        V,
        "is not a directory",
    ),
    (
        "preprocess size 0",
        lambda f: tdata.preprocess(tf.zeros([4, 4, 1], tf.uint8), 0, None, "resize"),
        V,
        "image_size",
    ),
    (
        "preprocess fit unknown",
        lambda f: tdata.preprocess(tf.zeros([4, 4, 1], tf.uint8), 2, None, "x"),
        V,
        "fit",
    ),
    (
        "read_image not an image",
        lambda f: tdata.read_image(f.text),
        V,
        r"notes.png' is not a readable image",
    ),
    (
        "read_image GIF bomb",
        lambda f: tdata.read_image(f.gif_bomb),
        V,
        r"bomb.gif' declares 144,000,000 pixels",
    ),
    ("read_image PNG bomb", lambda f: tdata.read_image(f.png_bomb), V, r"bomb.png'"),
    ("read_image WebP bomb", lambda f: tdata.read_image(f.webp_bomb), V, r"bomb.webp'"),
    ("read_image a folder", lambda f: tdata.read_image(f.root), V, "is not a file"),
    # Optimizers: their own arguments and the ones Keras passes through unchecked.
    ("Adam weight_decay negative", lambda f: Adam(weight_decay=-1.0), V, "weight_decay"),
    ("Adam weight_decay nan", lambda f: Adam(weight_decay=NAN), V, "weight_decay"),
    ("Nesterov weight_decay inf", lambda f: Nesterov(weight_decay=INF), V, "weight_decay"),
    (
        "ConjugateGradient weight_decay str",
        lambda f: ConjugateGradient(weight_decay="0.1"),
        V,
        "weight_decay",
    ),
    ("Adam clipnorm negative", lambda f: Adam(clipnorm=-1.0), V, "clipnorm"),
    ("Adam clipnorm 0", lambda f: Adam(clipnorm=0.0), V, "clipnorm"),
    ("Nesterov clipvalue nan", lambda f: Nesterov(clipvalue=NAN), V, "clipvalue"),
    ("Adam global_clipnorm negative", lambda f: Adam(global_clipnorm=-2.0), V, "global_clipnorm"),
    ("Adam two clippings", lambda f: Adam(clipnorm=1.0, clipvalue=1.0), V, "clipnorm"),
    ("Adam use_ema str", lambda f: Adam(use_ema="yes"), V, "use_ema"),
    ("Adam ema_momentum above 1", lambda f: Adam(ema_momentum=1.5), V, "ema_momentum"),
    ("Adam ema_momentum 1", lambda f: Adam(ema_momentum=1.0), V, "ema_momentum"),
    ("Nesterov ema_momentum negative", lambda f: Nesterov(ema_momentum=-0.1), V, "ema_momentum"),
    (
        "Adam ema_overwrite_frequency 0",
        lambda f: Adam(ema_overwrite_frequency=0),
        V,
        "ema_overwrite_frequency",
    ),
    (
        "Adam ema_overwrite_frequency float",
        lambda f: Adam(ema_overwrite_frequency=1.5),
        V,
        "ema_overwrite_frequency",
    ),
    ("Adam loss_scale_factor 0", lambda f: Adam(loss_scale_factor=0.0), V, "loss_scale_factor"),
    ("Adam loss_scale_factor nan", lambda f: Adam(loss_scale_factor=NAN), V, "loss_scale_factor"),
    (
        "Adam gradient_accumulation_steps 1",
        lambda f: Adam(gradient_accumulation_steps=1),
        V,
        "gradient_accumulation_steps",
    ),
    (
        "ConjugateGradient gradient_accumulation_steps float",
        lambda f: ConjugateGradient(gradient_accumulation_steps=2.5),
        V,
        "gradient_accumulation_steps",
    ),
    (
        "Adam gradient_accumulation_steps huge",
        lambda f: Adam(gradient_accumulation_steps=2**40),
        V,
        "gradient_accumulation_steps",
    ),
    ("Adam learning_rate negative", lambda f: Adam(learning_rate=-1.0), V, "learning_rate"),
    ("Adam learning_rate nan", lambda f: Adam(learning_rate=NAN), V, "learning_rate"),
    ("Nesterov learning_rate str", lambda f: Nesterov(learning_rate="fast"), V, "learning_rate"),
    ("Adam beta_1 1", lambda f: Adam(beta_1=1.0), V, "beta_1"),
    ("Adam epsilon 0", lambda f: Adam(epsilon=0.0), V, "epsilon"),
    ("Nesterov momentum 1", lambda f: Nesterov(momentum=1.0), V, "momentum"),
    ("Adam maximize int", lambda f: Adam(maximize=1), V, "maximize"),
    ("Adam name empty", lambda f: Adam(name=""), V, "name"),
    ("Adam name with slash", lambda f: Adam(name="a/b"), V, "name"),
    ("ConjugateGradient method unknown", lambda f: ConjugateGradient(method="newton"), V, "method"),
    (
        "ConjugateGradient restart_every 0",
        lambda f: ConjugateGradient(restart_every=0),
        V,
        "restart_every",
    ),
    # GAN: construction and fit.
    (
        "GAN num_classes above the networks'",
        lambda f: GAN(f.generator5, f.discriminator5, num_classes=10),
        V,
        r"num_classes=10, but the generator's embedding .* holds 5 classes",
    ),
    (
        "GAN num_classes 1",
        lambda f: GAN(f.generator5, f.discriminator5, num_classes=1),
        V,
        "num_classes",
    ),
    (
        "GAN latent_dim mismatch",
        lambda f: GAN(f.generator, f.gan.discriminator, latent_dim=3),
        V,
        "latent_dim=3",
    ),
    (
        "GAN generator not a model",
        lambda f: GAN("generator", f.gan.discriminator),
        V,
        "generator must be a built keras.Model",
    ),
    ("GAN seed float", lambda f: GAN(f.generator, f.gan.discriminator, seed=0.5), V, "seed"),
    (
        "fit an empty dataset",
        lambda f: _compiled_gan(f).fit(_dataset_of(f.images).take(0), verbose=0),
        V,
        "empty",
    ),
    (
        "fit a dataset filtered empty",
        lambda f: _compiled_gan(f).fit(_dataset_of(f.images).filter(lambda x: False), verbose=0),
        V,
        "held no batch",
    ),
    ("fit an empty array", lambda f: _compiled_gan(f).fit(f.images[:0], verbose=0), V, "empty"),
    (
        "fit images with NaN",
        lambda f: _compiled_gan(f).fit(f.images * NAN, verbose=0),
        V,
        "non-finite",
    ),
    (
        "fit images in 0..255",
        lambda f: _compiled_gan(f).fit((f.images + 1) * 127.5, verbose=0),
        V,
        r"must lie in \[-1, 1\]",
    ),
    (
        "fit images of another size",
        lambda f: _compiled_gan(f).fit(np.zeros((4, 16, 16, 1)), verbose=0),
        V,
        r"shape \(16, 16, 1\)",
    ),
    (
        "fit from_generator of another size (first batch)",
        lambda f: _compiled_gan(f).fit(_from_generator(np.zeros((2, 16, 16, 1))), verbose=0),
        V,
        r"shape \(16, 16, 1\)",
    ),
    # Inversion and restoration.
    (
        "invert mask all zeros",
        lambda f: reconstruct.invert(f.generator, f.images, mask=np.zeros((4, SIDE, SIDE, 1))),
        V,
        "mask hides every pixel",
    ),
    (
        "invert mask above 1",
        lambda f: reconstruct.invert(f.generator, f.images, mask=2 * np.ones((4, SIDE, SIDE, 1))),
        V,
        "mask values must lie in",
    ),
    ("invert steps 0", lambda f: reconstruct.invert(f.generator, f.images, steps=0), V, "steps"),
    (
        "invert method unknown",
        lambda f: reconstruct.invert(f.generator, f.images, method="x"),
        V,
        "method",
    ),
    (
        "invert images out of range",
        lambda f: reconstruct.invert(f.generator, f.images * 5),
        V,
        r"\[-1, 1\]",
    ),
    ("RandomMask fraction 1.5", lambda f: corruptions.RandomMask(1.5), V, "fraction"),
    ("GaussianNoise stddev negative", lambda f: corruptions.GaussianNoise(-1.0), V, "stddev"),
    ("Downsample factor 0", lambda f: corruptions.Downsample(0), V, "factor"),
    # Metrics.
    (
        "FrechetDistance real out of range",
        lambda f: tm.FrechetDistance(
            lambda x: tf.reshape(x, [len(x), -1]), feature_dim=64
        ).update_state(f.images * 3, f.images),
        V,
        r"\[-1, 1\]",
    ),
    (
        "evaluate_generator num_samples 1",
        lambda f: tm.evaluate_generator(f.gan, f.images, [], 1),
        V,
        "num_samples",
    ),
    # Stylize.
    (
        "stylize transfer image_size huge",
        lambda f: stylize.transfer("grace_hopper", "flower", image_size=40000),
        V,
        r"image_size=40000 asks for",
    ),
    (
        "stylize texture size huge",
        lambda f: stylize.texture("flower", size=(5000, 5000)),
        V,
        r"size=5000 asks for",
    ),
    (
        "stylize load_image not an image",
        lambda f: stylize.load_image(f.text),
        V,
        "is not a readable image",
    ),
    ("stylize load_image GIF bomb", lambda f: stylize.load_image(f.gif_bomb), V, "declares"),
    (
        "stylize transfer steps 0",
        lambda f: stylize.transfer("china", "flower", steps=0),
        V,
        "steps",
    ),
    # Models on disk and exports.
    (
        "load_generator a hostile SavedModel",
        lambda f: export.load_generator(f.hostile_saved_model),
        V,
        r"is a SavedModel and a SavedModel is a TensorFlow program",
    ),
    (
        "load_generator a discriminator",
        lambda f: export.load_generator(f.discriminator_file),
        V,
        r"discriminator.keras' holds no generator",
    ),
    (
        "load_generator a text file named .keras",
        lambda f: export.load_generator(f.keras_text),
        V,
        r"fake.keras' is truncated or corrupt",
    ),
    (
        "load_generator an .h5 name",
        lambda f: export.load_generator(f.root + "/x.h5"),
        V,
        "must be a .keras file or a SavedModel",
    ),
    (
        "load_generator trust str",
        lambda f: export.load_generator(f.gan_file, trust_saved_model="yes"),
        V,
        "trust_saved_model",
    ),
    (
        "export_generator onto a file",
        lambda f: export.export_generator(f.gan, f.a_file),
        V,
        "got the file",
    ),
    (
        "export_generator onto someone's folder",
        lambda f: export.export_generator(f.gan, f.non_empty_dir),
        V,
        "refusing to replace it",
    ),
    # Run folders and pictures.
    (
        "Run output_dir a file",
        lambda f: runs.Run(f.a_file, {}, "gan.keras"),
        V,
        "output_dir .* is not a directory",
    ),
    (
        "Run output_dir under a file",
        lambda f: runs.Run(f.a_file + "/run", {}, "gan.keras"),
        V,
        "lies under the file",
    ),
    ("set_random_seed float", lambda f: runs.set_random_seed(1.5), V, "seed"),
    ("first_images count 0", lambda f: runs.first_images(_dataset_of(f.images), 0), V, "count"),
    (
        "image_grid onto a folder",
        lambda f: plot.image_grid(np.zeros((1, 4, 4, 1)), f.root),
        V,
        "is a directory",
    ),
    (
        "image_grid under a file",
        lambda f: plot.image_grid(np.zeros((1, 4, 4, 1)), f.a_file + "/grid.png"),
        V,
        "is not a directory",
    ),
    # The examples' library entry points, before any work.
    (
        "train_gan output_dir a file",
        lambda f: train_gan.train(output_dir=f.a_file),
        V,
        "output_dir .* is not a directory",
    ),
    (
        "train_gan image_size huge",
        lambda f: train_gan.train(image_size=65536, output_dir=f.root + "/huge"),
        V,
        "image_size",
    ),
    (
        "restore size 0",
        lambda f: restore.restore(size=0, output=f.root + "/r.png"),
        V,
        r"size must lie in \[1, 2048\]",
    ),
    (
        "restore size huge",
        lambda f: restore.restore(size=10**6, output=f.root + "/r.png"),
        V,
        r"size must lie in",
    ),
    (
        "restore image not an image",
        lambda f: restore.restore(image=f.text, output=f.root + "/r.png"),
        V,
        "is not a readable image",
    ),
    # Every flag of the training and reconstruction scripts, through their library entry points.
    *[
        (f"train_gan {name}={value!r}", _train_gan(**{name: value}), V, pattern)
        for name, value, pattern in [
            ("epochs", 0, "epochs must be a positive int"),
            ("epochs", 10**7, "epochs must be at most 1000000"),
            ("steps", 0, "steps must be a positive int"),
            ("steps", 2**40, "steps must be at most"),
            ("batch_size", 0, "batch_size must be a positive int"),
            ("batch_size", 10**7, "batch_size=10000000 is larger than the 1500 images"),
            ("latent_dim", 0, "latent_dim must be a positive int"),
            ("latent_dim", 10**7, "latent_dim must be at most"),
            ("base_filters", 10**6, "base_filters must be at most"),
            ("samples", 0, "latent_batch must be"),
            ("samples", 10**6, "latent_batch must be at most 1024"),
            ("sample_every", 0, "every_n_epochs must be a positive int"),
            ("backup_every", 0, "backup_every must be a positive int"),
            ("backup_every", 2**40, "backup_every must be at most"),
            ("image_size", 12, "side a power of two"),
            ("channels", 2, "channels must be 1, 3"),
            ("dataset", "nope", "Unknown dataset name='nope'"),
            ("seed", -1, "[Ss]eed"),
        ]
    ],
    (
        "train_gan resume and overwrite",
        _train_gan(resume=True, overwrite=True),
        V,
        "resume and overwrite exclude each other",
    ),
    (
        "train_reconstruction task unknown",
        lambda f: train_reconstruction.train(task="nope", output_dir=f.root + "/task"),
        V,
        "task must be one of",
    ),
    (
        "train_reconstruction epochs 0",
        lambda f: train_reconstruction.train(epochs=0, output_dir=f.root + "/epochs"),
        V,
        "epochs must be a positive int",
    ),
    *[
        (f"reconstruct {name}={value!r}", _reconstruct(**{name: value}), V, pattern)
        for name, value, pattern in [
            ("count", 0, r"count must lie in \[1, 256\]"),
            ("count", 10**7, r"count must lie in \[1, 256\]"),
            ("count", 256, "count=256, but .* holds only 2 images"),
            ("steps", 0, "steps must be an int >= 1"),
            ("restarts", 0, "restarts must be an int >= 1"),
            ("mask_fraction", 1.5, "fraction must be a number in"),
            ("mask_patch", 0, "patch_size must be a positive int"),
            ("model", "/no/such/gan.keras", "does not exist"),
            ("images", "/no/such/folder", "is not a directory"),
        ]
    ],
    *[
        (f"restore {name}={value!r}", _restore(**{name: value}), V, pattern)
        for name, value, pattern in [
            ("steps", 0, "steps must be an int >= 1"),
            ("noise_stddev", -1.0, "stddev must be a number"),
            ("image", "photo:nope", "photo:NAME needs NAME"),
            ("image", "/no/such/file.png", "image must be an image file"),
        ]
    ],
    (
        "restore inpaint mask_fraction 2",
        _restore(task="inpaint", mask_fraction=2.0),
        V,
        "fraction must be a number in",
    ),
    (
        "restore inpaint mask_patch 0",
        _restore(task="inpaint", mask_patch=0),
        V,
        "patch_size must be a positive int",
    ),
    (
        "restore super_resolution factor 0",
        _restore(task="super_resolution", factor=0),
        V,
        "factor must be an int >= 1",
    ),
    # The other public building blocks.
    (
        "dcgan_generator side 12",
        lambda f: architectures.dcgan_generator((12, 12, 1), 4),
        V,
        "side a power of two",
    ),
    (
        "dcgan_generator side 2**20",
        lambda f: architectures.dcgan_generator((2**20, 2**20, 1), 4),
        V,
        "side a power of two",
    ),
    (
        "dcgan_generator latent_dim huge",
        lambda f: architectures.dcgan_generator((8, 8, 1), 10**9),
        V,
        "latent_dim must be at most",
    ),
    (
        "dcgan_discriminator 4 channels",
        lambda f: architectures.dcgan_discriminator((8, 8, 4)),
        V,
        "channels in \\(1, 3\\)",
    ),
    (
        "conv_decoder latent_dim negative",
        lambda f: architectures.conv_decoder(-1, (8, 8, 1)),
        V,
        "latent_dim must be a positive int",
    ),
    ("GAN loss unknown", lambda f: losses.get("nope"), V, "loss must be one of"),
    (
        "gradient_penalty negative weight",
        lambda f: losses.parse_gradient_penalty("r1:-1"),
        V,
        "gradient_penalty must be",
    ),
    (
        "gradient_penalty nan weight",
        lambda f: losses.parse_gradient_penalty("wgan_gp:nan"),
        V,
        "gradient_penalty must be",
    ),
    (
        "augment policy unknown",
        lambda f: augment.parse_policy("color,flip"),
        V,
        "got 'flip' in 'color,flip'",
    ),
    (
        "augment strength nan",
        lambda f: augment.diff_augment(f.images, "color", 0, strength=NAN),
        V,
        "strength must be a finite float",
    ),
    (
        "augment strength negative",
        lambda f: augment.diff_augment(f.images, "color", 0, strength=-1.0),
        V,
        "strength",
    ),
    ("corruption unknown", lambda f: corruptions.get("nope"), V, "corruption must be"),
    ("JPEG quality 0", lambda f: corruptions.JPEG(0), V, "quality must be a number in"),
    ("JPEG quality 101", lambda f: corruptions.JPEG(101), V, "quality must be a number in"),
    ("GaussianBlur sigma huge", lambda f: corruptions.GaussianBlur(1e9), V, "sigma must be"),
    ("GaussianNoise nan", lambda f: corruptions.GaussianNoise(NAN), V, "stddev must be"),
    (
        "Downsample factor above the image",
        lambda f: corruptions.Downsample(10**6)(f.images),
        V,
        "needs images of height >= 1000000",
    ),
    ("corruption seed float", lambda f: corruptions.as_seed(1.5), V, "seed must be"),
    (
        "pretrained weights unknown",
        lambda f: pretrained.weights_file("nope"),
        V,
        "name must be one of",
    ),
    (
        "feature_extractor unknown",
        lambda f: tm.feature_extractor("nope"),
        V,
        "feature extractor must be",
    ),
    (
        "feature_extractor missing Inception graph",
        lambda f: tm.feature_extractor("inception_pool3:/no/such.tgz"),
        V,
        "does not exist",
    ),
    (
        "feature_extractor missing Keras weights",
        lambda f: tm.feature_extractor("inception_v3:/no/such.h5"),
        V,
        "is not a file",
    ),
    (
        "SampleGrid every_n_epochs 0",
        lambda f: callbacks.SampleGrid(f.root, every_n_epochs=0),
        V,
        "every_n_epochs",
    ),
    (
        "SampleGrid latent_batch huge",
        lambda f: callbacks.SampleGrid(f.root, latent_batch=10**6),
        V,
        "latent_batch must be at most 1024",
    ),
    (
        "StepBackup every_n_steps 0",
        lambda f: callbacks.StepBackup(f.root, every_n_steps=0),
        V,
        "every_n_steps",
    ),
    (
        "image_grid NaN",
        lambda f: plot.image_grid(np.full((1, 4, 4, 1), NAN), f.root + "/g.png"),
        V,
        "must be finite",
    ),
    (
        "image_grid scale huge",
        lambda f: plot.image_grid(np.zeros((1, 4, 4, 1)), f.root + "/g.png", scale=10**6),
        V,
        "scale=1000000 would be 4000004 x 4000004 pixels",
    ),
    (
        "image_grid columns 0",
        lambda f: plot.image_grid(np.zeros((1, 4, 4, 1)), f.root + "/g.png", columns=0),
        V,
        "columns must be a positive int",
    ),
    (
        "loss_curves empty history",
        lambda f: plot.loss_curves({}, f.root + "/l.png"),
        V,
        "history holds no numeric",
    ),
    ("make_strategy unknown", lambda f: runs.make_strategy("nope"), V, "strategy must be one of"),
    (
        "Autoencoder networks not models",
        lambda f: Autoencoder("encoder", "decoder"),
        V,
        "encoder must be a built keras.Model",
    ),
    (
        "evaluate_generator num_samples huge",
        lambda f: tm.evaluate_generator(f.gan, f.images, [], 10**9),
        V,
        "num_samples must be at most 1,000,000",
    ),
    (
        "evaluate_generator batch_size 0",
        lambda f: tm.evaluate_generator(f.gan, f.images, [], 100, batch_size=0),
        V,
        "batch_size",
    ),
    (
        "invert steps huge",
        lambda f: reconstruct.invert(f.generator, f.images, steps=10**9),
        V,
        "steps must be at most 1000000",
    ),
    (
        "invert restarts huge",
        lambda f: reconstruct.invert(f.generator, f.images, restarts=10**6),
        V,
        "restarts must be at most 1024",
    ),
    (
        "deep_image_prior steps huge",
        lambda f: reconstruct.deep_image_prior(np.zeros((8, 8, 3)), steps=10**9),
        V,
        "steps must be at most",
    ),
    (
        "stylize steps huge",
        lambda f: stylize.transfer("china", "flower", steps=10**9),
        V,
        "steps must be at most 1000000",
    ),
]


@pytest.mark.parametrize("call, error, pattern", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_hostile_input_is_refused_in_one_clear_error(f, call, error, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Only the error is judged here.
        with pytest.raises(error, match=pattern):
            call(f)


# --- the example scripts: one `error:` line, no traceback -----------------------------------------

SCRIPT_ROWS = [
    (
        "evaluate.py a hostile SavedModel",
        "evaluate.py",
        ["--model={hostile_saved_model}"],
        r"is a SavedModel .*--trust_saved_model",
    ),
    (
        "reconstruct.py a discriminator",
        "reconstruct.py",
        ["--model={discriminator_file}", "--steps=1"],
        r"holds no generator",
    ),
    ("restore.py size 0", "restore.py", ["--size=0", "--output={root}/r.png"], r"size must lie in"),
    (
        "stylize.py image_size 40000",
        "stylize.py",
        ["--image_size=40000", "--output_dir={root}/s"],
        r"image_size=40000 asks for",
    ),
    (
        "stylize.py output_dir a file",
        "stylize.py",
        ["--output_dir={a_file}", "--steps=1"],
        r"output_dir .* is not a directory",
    ),
]


@pytest.fixture(scope="module")
def script_runs(f):
    """{row id: (exit status, stderr)} of every script row, the scripts run side by side.

    Each spends most of its time importing TensorFlow; started together they overlap.
    """
    processes = {}
    for name, script, arguments, _ in SCRIPT_ROWS:
        command = [sys.executable, os.path.join(EXAMPLES, script)]
        command += [a.format(**vars(f)) for a in arguments]
        processes[name] = subprocess.Popen(
            command,
            env=script_environment(),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    runs = {}
    for name, process in processes.items():
        _, stderr = process.communicate(timeout=600)
        runs[name] = process.returncode, stderr
    return runs


@pytest.mark.parametrize(
    "name, pattern", [(r[0], r[3]) for r in SCRIPT_ROWS], ids=[r[0] for r in SCRIPT_ROWS]
)
def test_example_scripts_answer_hostile_input_with_one_error_line(f, script_runs, name, pattern):
    returncode, stderr = script_runs[name]
    assert returncode == 1, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr[-2000:]
    assert re.search(pattern, errors[0]), errors[0]
    assert not os.path.exists(f.marker)  # The hostile SavedModel's program never ran.


def test_the_table_is_large():
    assert len(ROWS) + len(SCRIPT_ROWS) >= 80


# --- what must be accepted, or warned about -------------------------------------------------------


def test_a_trusted_saved_model_is_a_program_that_runs(f, tmp_path):
    # Why SavedModels need trust: calling the hostile one writes its file.
    marker = tmp_path / "marker"
    hostile = _Hostile(str(marker))
    path = str(tmp_path / "hostile")
    tf.saved_model.save(hostile, path, signatures={"serving_default": hostile.serve})
    generator = export.load_generator(path, trust_saved_model=True)
    generator(np.zeros((1, LATENT_DIM), np.float32))
    assert marker.read_text() == "written by a SavedModel"


def test_a_dataset_without_static_shapes_is_accepted_from_its_first_batch(f):
    dataset = _from_generator(f.images)  # TensorSpec(None): shape unknown until it runs
    assert dataset.element_spec.shape.rank is None
    gan = make_gan(filters=4)
    gan.compile(jit_compile=False)
    history = gan.fit(dataset, epochs=1, verbose=0)
    assert len(history.history["d_loss"]) == 1 and int(gan.noise_step.numpy()) == 1


def test_training_images_in_0_1_warn_once_with_the_fix(f, monkeypatch):
    from tfgen.models import _images

    monkeypatch.setattr(_images, "_warned_unit_range", [])
    gan = make_gan(filters=4)
    gan.compile(jit_compile=False)
    unit = (f.images + 1) / 2
    with pytest.warns(UserWarning, match=r"never go below 0.*x \* 2 - 1") as record:
        gan.fit(unit, epochs=1, batch_size=4, verbose=0)
        gan.fit(unit, epochs=1, batch_size=4, verbose=0)
    assert len([w for w in record if "never go below 0" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monkeypatch.setattr(_images, "_warned_unit_range", [])
        gan.fit(f.images, epochs=1, batch_size=4, verbose=0)  # [-1, 1]: no warning


def test_generated_images_in_0_1_fed_to_a_metric_warn(f, monkeypatch):
    from tfgen.metrics import features

    monkeypatch.setattr(features, "_warned_unit_range", [])
    metric = tm.FrechetDistance(lambda x: tf.reshape(x, [len(x), -1]), feature_dim=64)
    with pytest.warns(UserWarning, match=r"generated images never go below 0.*x \* 2 - 1"):
        metric.update_state(f.images, (f.images + 1) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monkeypatch.setattr(features, "_warned_unit_range", [])
        metric.update_state(f.images, f.images)


def test_symbolic_link_loops_are_cut_and_each_file_read_once(tmp_path):
    folder = tmp_path / "images"
    (folder / "a").mkdir(parents=True)
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    for i, colour in enumerate(colours):
        Image.new("RGB", (4, 4), colour).save(folder / "a" / f"{i}.png")
    os.symlink(".", folder / "a" / "self")  # a loop
    os.symlink("..", folder / "a" / "parent")  # a loop through the parent
    os.symlink(folder / "a", folder / "again")  # a second way to one folder
    os.symlink("0.png", folder / "a" / "zero.png")  # a second way to one file
    with pytest.warns(UserWarning, match=r"3 linked folders .* 1 files reached twice"):
        ds = tdata.load(f"folder:{folder}", batch_size=1, shuffle=False, value_range=(0, 255))
    got = sorted(tuple(int(v) for v in b[0, 0, 0].numpy()) for b in ds)
    assert got == sorted(colours)


@pytest.mark.parametrize("kind", ["gif", "webp"])
def test_animated_files_cost_every_frame_times_the_canvas(tmp_path, kind):
    # Pillow writes the files and counts their frames: an independent reference.
    frames = [Image.new("RGB", (11, 5), (40 * i, 0, 0)) for i in range(4)]
    path = tmp_path / f"x.{kind}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    with Image.open(path) as opened:
        want = opened.n_frames * opened.size[0] * opened.size[1]
    assert want == 4 * 55
    data = path.read_bytes()
    walker = headers.gif_pixels if kind == "gif" else headers.webp_pixels
    assert walker(data) == want
    assert int(sources.header_pixels(data)) == want


def test_the_gif_screen_does_not_hide_a_larger_frame():
    data = gif_declaring((1, 1), (12000, 12000))
    assert len(data) < 100
    assert int(sources.header_pixels(data)) == 144_000_000
    assert headers.gif_pixels(gif_declaring((10, 10), (10, 10), frames=7)) == 700


def test_bounds_are_pinned():
    from tfgen import _checks

    assert _checks.MAX_PIXELS == Image.MAX_IMAGE_PIXELS == 89_478_485
    assert _checks.image_pixels((9459, 9459)) == (9459, 9459)  # 89,472,681 pixels
    with pytest.raises(ValueError, match="image_size=9460 asks for 89,491,600 pixels"):
        _checks.image_pixels((9460, 9460))
    assert stylize.MAX_PIXELS == 2048 * 2048
    stylize._image_size(2048)
    with pytest.raises(ValueError, match="image_size=2049"):
        stylize._image_size(2049)
    assert restore.MAX_SIZE == 2048
    memory = _checks.memory_bytes()
    fits = memory // 2 // (4 * 64 * 64)
    assert _checks.batch_fits(fits, (64, 64, 1)) == fits
    with pytest.raises(ValueError, match="batch_size"):
        _checks.batch_fits(fits + 1, (64, 64, 1))
    assert sources.MAX_FILE_BYTES == 2**30


def test_a_full_disk_during_export_keeps_the_last_export_and_says_so(f, tmp_path, monkeypatch):
    path = export.export_generator(f.gan, tmp_path / "served")
    before = sorted(os.listdir(path))
    real_save = tf.saved_model.save

    def disk_full(obj, export_dir, *args, **kwargs):
        real_save(obj, export_dir, *args, **kwargs)
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{export_dir}/variables/variables_temp/part-00000: No space left on device"
        )

    monkeypatch.setattr(tf.saved_model, "save", disk_full)
    with pytest.raises(OSError, match=r"could not write the SavedModel .*No space left") as error:
        export.export_generator(f.gan, path)
    assert "\n" not in str(error.value)
    monkeypatch.undo()
    assert sorted(os.listdir(path)) == before
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # No staging left.
    export.load_generator(path, trust_saved_model=True)  # The last good export still loads.


def test_a_failed_picture_or_config_write_keeps_the_previous_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "grid.png"
    plot.image_grid(np.zeros((1, 4, 4, 1)), path)
    before = path.read_bytes()

    def disk_full(self, target, *args, **kwargs):
        with open(target, "wb") as file:
            file.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    with pytest.raises(OSError, match="No space left"):
        plot.image_grid(np.ones((1, 4, 4, 1)), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["grid.png"]  # No staging file left.


def test_bombs_among_good_images_are_skipped_and_counted(tmp_path):
    good = [(10, 20, 30), (40, 50, 60)]
    for i, colour in enumerate(good):
        Image.new("RGB", (5, 5), colour).save(tmp_path / f"good{i}.gif")
    (tmp_path / "bomb.gif").write_bytes(gif_declaring((5, 5), (12000, 12000)))
    (tmp_path / "bomb.png").write_bytes(webp_declaring(16000, 16000))
    ds = tdata.load(f"folder:{tmp_path}", batch_size=1, shuffle=False, value_range=(0, 255))
    with pytest.warns(UserWarning, match="Skipped 2 of 4 image files"):
        got = sorted(tuple(int(v) for v in b[0, 0, 0].numpy()) for b in ds)
    assert got == good
