"""Writes the `.keras` files of tests/test_old_models.py and the outputs they must give.

Run once, with the tfgen of main's commit c8b1755 (before the files of issue 28 were split):

    PYTHONPATH=$PWD python tests/data/make_old_models.py

It trains four tiny models for two steps (so their optimizers hold state), saves each as
`NAME.keras` (re-zipped with deflate) and records, in `NAME.npz`, the model's output on a fixed
input and, of each optimizer variable, its first values and the sum of its absolute values.
The test loads the files with today's code and compares: a split that renamed a registered
class, changed a `get_config` or lost an optimizer slot fails it.
Do not re-run it to make the test pass: the point is that the files are old.
"""

import os
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen import architectures, corruptions  # noqa: E402
from tfgen.models import GAN, VAE, Autoencoder  # noqa: E402
from tfgen.optimizers import Adam, ConjugateGradient, Nesterov  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIDE, LATENT, CLASSES = 16, 4, 3


def images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, SIDE, SIDE, 1)).astype("float32")


def probe(model):
    """The fixed input each model's recorded output is computed on."""
    z = np.random.default_rng(1).standard_normal((4, LATENT)).astype("float32")
    if isinstance(model, GAN):
        if model.num_classes:
            return [z, np.array([0, 1, 2, 1], "int32")]
        return z
    return images(4, seed=2)


def optimizer_variables(model):
    """Of each optimizer variable, its first 8 values and its sum of absolute values."""
    names = ("generator_optimizer", "discriminator_optimizer", "optimizer")
    values = {}
    for name in names:
        optimizer = getattr(model, name, None)
        if optimizer is not None:
            for i, variable in enumerate(optimizer.variables):
                flat = np.ravel(np.asarray(variable, "float64"))
                values[f"{name}/{i}/head"] = flat[:8]
                values[f"{name}/{i}/abs_sum"] = np.abs(flat).sum()
    return values


def gan():
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, base_filters=4)
    discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), base_filters=4)
    model = GAN(generator, discriminator, seed=3)
    model.compile(generator_ema=0.9)  # tfgen's Adam, both networks
    model.fit(images(), batch_size=4, epochs=1, verbose=0)
    return model


def conditional_gan():
    generator = architectures.dcgan_generator(
        (SIDE, SIDE, 1), LATENT, base_filters=4, num_classes=CLASSES, upsampling="nearest"
    )
    discriminator = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), base_filters=4, spectral_norm=True, num_classes=CLASSES
    )
    model = GAN(generator, discriminator, seed=4, num_classes=CLASSES)
    model.compile(
        generator_optimizer=Nesterov(1e-3),
        discriminator_optimizer=ConjugateGradient(1e-3),
        loss="hinge",
        discriminator_steps=2,
    )
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1], "int32")
    data = tf.data.Dataset.from_tensor_slices((images(), labels)).batch(4)
    model.fit(data, epochs=1, verbose=0)
    return model


def unet_inpainter():
    decoder = architectures.unet((SIDE, SIDE, 1), base_filters=4, inpaint_fill=0.0)
    model = Autoencoder(None, decoder, corruption=corruptions.RandomMask(0.25, 4), seed=5)
    model.compile(optimizer=Adam(1e-3))
    model.fit(images(), batch_size=4, epochs=1, verbose=0)
    return model


def vae():
    encoder = architectures.conv_encoder((SIDE, SIDE, 1), LATENT, True, base_filters=4)
    decoder = architectures.conv_decoder(LATENT, (SIDE, SIDE, 1), base_filters=4)
    model = VAE(encoder, decoder, corruption=corruptions.GaussianNoise(0.1), loss="l2", seed=6)
    model.compile(optimizer=Nesterov(1e-3))
    model.fit(images(), batch_size=4, epochs=1, verbose=0)
    return model


def deflate(path):
    """Re-zips a `.keras` file with deflate (Keras stores it uncompressed): a third the size.

    Keras reads the archive with `zipfile`, so the members and their bytes are what it wrote.
    """
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info, data in members:
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


MODELS = {"gan": gan, "conditional_gan": conditional_gan, "unet": unet_inpainter, "vae": vae}


def main():
    for name, build in MODELS.items():
        keras.utils.set_random_seed(0)
        model = build()
        model.save(os.path.join(HERE, f"{name}.keras"))
        deflate(os.path.join(HERE, f"{name}.keras"))
        expected = {"output": keras.ops.convert_to_numpy(model(probe(model), training=False))}
        expected.update(optimizer_variables(model))
        np.savez(os.path.join(HERE, f"{name}.npz"), **expected)
        print(name, {key: value.shape for key, value in expected.items()})


if __name__ == "__main__":
    main()
