"""TensorFlow SavedModel export of trained generators and reconstruction models, for serving.

The exports are plain SavedModels written with `keras.export.ExportArchive`: they load with
`tf.saved_model.load` (or TensorFlow Serving) in a process that has neither tfgen nor Keras,
and `saved_model_cli show --all --dir PATH` lists their signatures.

`export_generator(gan, path)` writes two signatures:

- `serving_default`: `z` float32 (batch, latent_dim) -> {"images": float32 (batch, H, W, C)}
  in [0, 1];
- `sample`: `batch_size` int32 scalar and `seed` int64 scalar -> {"images": ...}, the images of
  the codes `tf.random.stateless_normal([batch_size, latent_dim], seed=[seed, 0])`, the same
  codes `GAN.generate(batch_size, seed=seed)` draws.

A conditional generator (`GAN(..., num_classes=K)`, a generator taking `[z, labels]`) gets
`serving_default`: `z` and `labels` int32 (batch,) -> {"images": ...}, and `sample`: `labels`
int32 (batch,), one requested class per image, and `seed` int64 scalar -> {"images": ...}, equal
to `GAN.generate(len(labels), labels=labels, seed=seed)`.

`export_decoder(autoencoder, path)` writes `serving_default` (codes -> images in [0, 1]) and
`encode` (images in [0, 1] -> {"z": codes}, the posterior mean for a variational model, whose
log-variance comes as "z_log_var") and `reconstruct` (images in [0, 1] -> {"images": ...}),
plus `sample` for a variational model. A restoration network without encoder
(`Autoencoder(None, unet(...))`) gets `restore`, images in [0, 1] degraded at full size ->
{"images": restored images in [0, 1]}, also as `serving_default`; images of any height and width
when the network is fully convolutional (see `export_decoder`).

Writing is safe: the SavedModel is written into a fresh directory next to `path` and renamed
into place only when complete, so a failed export leaves a previous export at `path` intact.

    import tensorflow as tf
    served = tf.saved_model.load("runs/gan/saved_model")
    images = served.signatures["sample"](batch_size=tf.constant(16), seed=tf.constant(0, tf.int64))
"""

from __future__ import annotations

import os
import zipfile
import zlib

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import _files
from tfgen.images import to_model_range, to_unit_range
from tfgen.models import sampling_network

__all__ = ["export_decoder", "export_generator", "load_generator"]

# Marker of a directory that holds a SavedModel (written by tf.saved_model.save).
_SAVED_MODEL_FILE = "saved_model.pb"


def _check_image_model(model, what, argument, conditional=False):
    """Returns (code_shape, image_shape) of a built Keras model mapping codes to images.

    A `conditional` model takes `[codes, labels]`, labels of shape (batch,).
    """
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"{argument} must hold a built keras.Model as {what}, got {model!r}")
    ok = len(model.inputs) == 1 + conditional and len(model.outputs) == 1
    if ok and conditional:
        ok = tuple(model.inputs[1].shape[1:]) == ()
    code_shape = tuple(model.inputs[0].shape[1:]) if ok else ()
    image_shape = tuple(model.outputs[0].shape[1:]) if ok else ()
    if not code_shape or None in code_shape or len(image_shape) != 3 or None in image_shape:
        raise ValueError(
            f"the {what} of {argument} must map codes (batch, *code_shape) to images "
            f"(batch, H, W, C), got {model.input_shape} -> {model.output_shape}"
        )
    return tuple(map(int, code_shape)), tuple(map(int, image_shape))


def _check_path(path):
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(f"path must be a non-empty directory path, got {path!r}")
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise ValueError(f"path must be a directory for the SavedModel, got the file {path!r}")
        if os.listdir(path) and not os.path.exists(os.path.join(path, _SAVED_MODEL_FILE)):
            raise ValueError(
                f"path {path!r} is a non-empty directory that holds no SavedModel; refusing to "
                "replace it: give a new or empty directory, or a previous export"
            )
    return path


def _write_atomically(archive, path):
    """Writes `archive` to a temporary directory beside `path`, then swaps it into place
    (`_files.replaced_atomically`): a failed write leaves a previous export intact."""
    with _files.replaced_atomically(path, directory=True) as staging:
        try:
            archive.write_out(staging, verbose=False)
        except tf.errors.OpError as error:  # a full disk, a quota: the staging copy fails
            reason = (error.message or str(error)).splitlines()[0]
            raise OSError(
                f"could not write the SavedModel {path!r} ({type(error).__name__}: {reason}); "
                "nothing was replaced: a previous export there is unchanged"
            ) from None
        if not os.path.exists(os.path.join(staging, _SAVED_MODEL_FILE)):
            raise RuntimeError(f"the SavedModel written to {staging!r} is incomplete")
    return path


def _prior_codes(batch_size, seed, code_shape):
    """z ~ N(0, I) from the seed pair [seed, 0], the one GAN.generate and VAE.sample use."""
    pair = tf.stack([seed, tf.zeros_like(seed)])
    shape = tf.concat([[batch_size], tf.constant(code_shape, tf.int32)], axis=0)
    return tf.random.stateless_normal(shape, seed=pair)


def _add_sample_endpoint(archive, decode, code_shape):
    """The `sample` signature: (batch_size int32, seed int64) -> decode(z), z ~ N(0, I)."""

    def sample(batch_size, seed):
        return decode(_prior_codes(batch_size, seed, code_shape))

    archive.add_endpoint(
        "sample",
        sample,
        input_signature=[
            tf.TensorSpec([], tf.int32, name="batch_size"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ],
    )


def export_generator(gan, path):
    """Writes a SavedModel serving the generator of `gan` (its EMA generator when it has one).

    Signatures (see the module docstring): `serving_default` maps `z` float32
    (batch, latent_dim) to {"images": float32 (batch, H, W, C) in [0, 1]}; `sample` takes
    `batch_size` (int32 scalar) and `seed` (int64 scalar) and returns the images of the codes
    `tf.random.stateless_normal([batch_size, latent_dim], seed=[seed, 0])`, equal to
    `gan.generate(batch_size, seed=seed)`. For a conditional generator, `serving_default` takes
    `z` and `labels` (int32, batch) and `sample` takes `labels` (one class per image) and
    `seed`, equal to `gan.generate(len(labels), labels=labels, seed=seed)`. The generator
    runs in inference mode (batch normalisation uses its moving statistics).

    Args:
        gan: A `tfgen.models.GAN`, or any model `tfgen.models.sampling_network` finds a
            generator in (a VAE's decoder), or a generator `keras.Model` itself.
        path: Directory to write. A previous export there is replaced only once the new one
            is complete.

    Returns:
        The absolute path written.

    Raises:
        ValueError: `gan` holds no built generator, or `path` is a file or a non-empty
            directory that is not a SavedModel.
    """
    try:
        generator = sampling_network(gan)
    except ValueError:
        generator = None  # refused below, naming the argument
    conditional = isinstance(generator, keras.Model) and len(generator.inputs) == 2
    code_shape, _ = _check_image_model(generator, "generator", "gan", conditional)
    path = _check_path(path)
    z_spec = tf.TensorSpec([None, *code_shape], tf.float32, name="z")
    archive = keras.export.ExportArchive()
    archive.track(generator)
    if conditional:
        _add_conditional_endpoints(archive, generator, code_shape, z_spec)
        return _write_atomically(archive, path)

    def serve(z):
        return {"images": to_unit_range(generator(z, training=False))}

    archive.add_endpoint("serving_default", serve, input_signature=[z_spec])
    _add_sample_endpoint(archive, serve, code_shape)
    return _write_atomically(archive, path)


def _add_conditional_endpoints(archive, generator, code_shape, z_spec):
    """`serving_default` (z, labels) and `sample` (labels, seed) of a conditional generator."""
    labels_spec = tf.TensorSpec([None], tf.int32, name="labels")

    def serve(z, labels):
        return {"images": to_unit_range(generator([z, labels], training=False))}

    def sample(labels, seed):
        return serve(_prior_codes(tf.shape(labels)[0], seed, code_shape), labels)

    archive.add_endpoint("serving_default", serve, input_signature=[z_spec, labels_spec])
    archive.add_endpoint(
        "sample", sample, input_signature=[labels_spec, tf.TensorSpec([], tf.int64, name="seed")]
    )


def export_decoder(autoencoder, path):
    """Writes a SavedModel serving a reconstruction model: decoder, encoder and both together.

    Signatures: `serving_default` maps `z` float32 (batch, *code_shape) to {"images": float32
    (batch, H, W, C) in [0, 1]} through the decoder; `encode` maps `images` in [0, 1] to
    {"z": codes} (for a variational encoder, which outputs `[z_mean, z_log_var]`, "z" is the
    posterior mean and "z_log_var" comes too); `reconstruct` maps `images` in [0, 1] to
    {"images": decoder(encoder(images))} in [0, 1], the deterministic reconstruction (the
    posterior mean is decoded, no sampling). A variational model (an encoder with the two
    outputs `[z_mean, z_log_var]`) also gets the `sample` signature of `export_generator`,
    images of prior codes equal to `VAE.sample(batch_size, seed=seed)`. A model whose encoder
    is None (an image-to-image restoration network such as `Autoencoder(None,
    architectures.unet(...))`) gets only `restore` and the same function as `serving_default`:
    degraded `images` in [0, 1] at full size -> {"images": ...} in [0, 1], of any height and
    width (at least 2^depth - 1 pixels) for a `unet` built for sides divisible by 2^depth, and
    of the built size otherwise. Everything runs in inference mode.

    Args:
        autoencoder: A model with `encoder` and `decoder` attributes (e.g.
            `tfgen.models.Autoencoder`): the encoder maps images in [-1, 1] to codes, the
            decoder codes to images in [-1, 1].
        path: Directory to write; replaced only once the new export is complete.

    Returns:
        The absolute path written.

    Raises:
        ValueError: `autoencoder` lacks a built encoder or decoder, their shapes do not fit
            together, or `path` is a file or a non-empty directory that is not a SavedModel.
    """
    decoder = getattr(autoencoder, "decoder", None)
    encoder = getattr(autoencoder, "encoder", None)
    if encoder is None and isinstance(decoder, keras.Model):
        return _export_restorer(decoder, path)
    code_shape, image_shape = _check_image_model(decoder, "decoder", "autoencoder")
    if not isinstance(encoder, keras.Model) or not encoder.built:
        raise ValueError(f"autoencoder must hold a built keras.Model as encoder, got {encoder!r}")
    outputs = [tuple(output.shape[1:]) for output in encoder.outputs]
    variational = len(outputs) == 2
    if (
        len(encoder.inputs) != 1
        or tuple(encoder.inputs[0].shape[1:]) != image_shape
        or len(outputs) not in (1, 2)
        or any(shape != code_shape for shape in outputs)
    ):
        raise ValueError(
            f"the encoder of autoencoder maps {encoder.input_shape} -> {encoder.output_shape} "
            f"but the decoder maps codes {code_shape} to images {image_shape}: the encoder "
            "must take the decoder's images and return its codes (or [z_mean, z_log_var])"
        )
    path = _check_path(path)

    def decode(z):
        return {"images": to_unit_range(decoder(z, training=False))}

    def encode(images):
        codes = encoder(to_model_range(images), training=False)
        if variational:
            return {"z": tf.cast(codes[0], tf.float32), "z_log_var": tf.cast(codes[1], tf.float32)}
        return {"z": tf.cast(codes, tf.float32)}

    def reconstruct(images):
        return decode(encode(images)["z"])

    images_spec = tf.TensorSpec([None, *image_shape], tf.float32, name="images")
    archive = keras.export.ExportArchive()
    archive.track(decoder)
    archive.track(encoder)
    archive.add_endpoint(
        "serving_default",
        decode,
        input_signature=[tf.TensorSpec([None, *code_shape], tf.float32, name="z")],
    )
    archive.add_endpoint("encode", encode, input_signature=[images_spec])
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[images_spec])
    if variational:
        _add_sample_endpoint(archive, decode, code_shape)
    return _write_atomically(archive, path)


def _export_restorer(network, path):
    """`serving_default` and `restore`: degraded images in [0, 1] -> restored images in [0, 1].

    A fully convolutional network built for even sides (no cropping layer, as `unet` built for
    sides divisible by 2^depth) takes images of any height and width: they are mirrored
    (symmetric padding) on the bottom and right up to the next multiple of 2^(pooling layers)
    and the result cropped back, so sides need at least that multiple minus one pixels. A
    network with cropping layers keeps the size it was built for.
    """
    shapes = [tuple(t.shape[1:]) for t in (*network.inputs, *network.outputs)]
    if not network.built or len(shapes) != 2 or None in shapes[0] or shapes[0] != shapes[1]:
        raise ValueError(
            "an autoencoder without encoder must hold a built decoder mapping images to images "
            f"of the same shape, got {network.input_shape} -> {network.output_shape}"
        )
    path = _check_path(path)
    channels = shapes[0][-1]
    flexible = not any(isinstance(layer, keras.layers.Cropping2D) for layer in network.layers)
    if flexible:
        # The same layers (and so the same weights) called on inputs of any height and width.
        network = keras.models.clone_model(
            network,
            input_tensors=keras.Input((None, None, channels), name="images"),
            clone_function=lambda layer: layer,
        )
        images_spec = tf.TensorSpec([None, None, None, channels], tf.float32, name="images")
    else:
        images_spec = tf.TensorSpec([None, *shapes[0]], tf.float32, name="images")
    multiple = 2 ** sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in network.layers)

    def restore(images):
        x = to_model_range(images)
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        if flexible and multiple > 1:
            pads = [[0, 0], [0, -height % multiple], [0, -width % multiple], [0, 0]]
            x = tf.pad(x, pads, mode="SYMMETRIC")
        restored = network(x, training=False)[:, :height, :width, :]
        return {"images": to_unit_range(restored)}

    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint("serving_default", restore, input_signature=[images_spec])
    archive.add_endpoint("restore", restore, input_signature=[images_spec])
    return _write_atomically(archive, path)


#: Why a SavedModel is loaded only when its user says they trust it.
SAVED_MODEL_RISK = (
    "a SavedModel is a TensorFlow program: loading and calling it runs whatever ops its graph "
    "holds (writing files included), so load only one from a source you trust"
)


def load_generator(path, trust_saved_model=False):
    """The network that maps codes to images in a `.keras` file or a SavedModel export.

    From a `.keras` file (loaded with safe_mode on): a GAN's sampling generator, a
    reconstruction model's decoder, or the file's model itself. From a SavedModel written by
    `tfgen.export`: its `serving_default` signature (codes -> images in [0, 1]) wrapped as a
    Keras model with outputs in [-1, 1]; gradients flow through it, so it can be inverted.

    A `.keras` file is a zip archive with a CRC-32 checksum per member: it is checked whole
    before loading, so a truncated or damaged file is refused, never loaded in part.

    A SavedModel is a program (TensorFlow's security notes: "models are programs"), so one is
    loaded only with `trust_saved_model=True`; a `.keras` file loads with safe_mode, which
    refuses the layers that run arbitrary code (Lambda), whatever its source.

    Raises:
        ValueError: `path` is neither an existing `.keras` file nor a SavedModel directory, the
            file or the SavedModel is truncated or corrupt, or a SavedModel is not trusted.
    """
    checks.boolean(trust_saved_model, "trust_saved_model")
    path = os.fspath(path) if isinstance(path, str | os.PathLike) else path
    saved_model = isinstance(path, str) and os.path.isfile(os.path.join(path, "saved_model.pb"))
    if not saved_model and not (isinstance(path, str) and path.endswith(".keras")):
        raise ValueError(
            "model must be a .keras file or a SavedModel directory written by tfgen.export, "
            f"got {path!r}"
        )
    if not os.path.exists(path):
        raise ValueError(
            f"model {path!r} does not exist: train one first (python examples/train_gan.py) "
            "or pass --model"
        )
    if saved_model and not trust_saved_model:
        raise ValueError(
            f"model {path!r} is a SavedModel and {SAVED_MODEL_RISK}: pass trust_saved_model=True "
            "(--trust_saved_model in the examples) if you do, or give the run's .keras file"
        )
    if saved_model:
        try:  # TensorFlow checks the graph's structure and each variable's CRC-32C.
            signature = tf.saved_model.load(path).signatures["serving_default"]
        except (OSError, tf.errors.OpError) as error:
            raise ValueError(
                f"model {path!r} is a truncated or corrupt SavedModel "
                f"({type(error).__name__}: {error}): export it again"
            ) from None
        spec = signature.structured_input_signature[1]["z"]
        codes = keras.Input(shape=tuple(spec.shape[1:]), name="z")
        served = keras.layers.TFSMLayer(path, call_endpoint="serving_default")(codes)
        return keras.Model(codes, served["images"] * 2.0 - 1.0, name="exported_generator")
    _check_keras_file(path)
    # Compiled, because a GAN's moving-average generator is made by its compile settings.
    model = keras.saving.load_model(path, safe_mode=True)
    return _checked_generator(sampling_network(model), path)


def _checked_generator(network, path):
    """`network` if it maps codes (batch, *code_shape) to images (batch, H, W, C)."""
    inputs = network.inputs or []
    first = tuple(inputs[0].shape) if inputs else ()
    outputs = network.outputs or []
    produced = tuple(outputs[0].shape) if len(outputs) == 1 else ()
    if len(first) < 2 or len(produced) != 4:
        raise ValueError(
            f"model {path!r} holds no generator: its network {network.name!r} takes "
            f"{first or 'no input'} and returns {produced or 'several outputs'}, where a "
            "generator takes codes (batch, *code_shape) and returns images (batch, H, W, C); give "
            "a GAN, a generator, or a reconstruction model's file"
        )
    return network


def _check_keras_file(path):
    """ValueError unless `path` is a complete zip archive whose members match their CRC-32."""
    advice = (
        "save it again, or use the last good one (a training run's checkpoint.keras, written "
        "atomically at each epoch end)"
    )
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise ValueError(
            f"model {path!r} is truncated or corrupt, not a complete .keras file "
            f"({type(error).__name__}: {error}): {advice}"
        ) from None
    if damaged is not None:
        raise ValueError(
            f"model {path!r} is corrupt: its member {damaged} does not match its CRC-32 "
            f"checksum: {advice}"
        )
