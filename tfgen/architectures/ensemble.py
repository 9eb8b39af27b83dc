"""Geometric self-ensemble: a restoration network averaged over flips and turns of its input."""

from __future__ import annotations

import keras
from keras import layers

from tfgen._checks import built_model

#: The transform groups of `self_ensemble`: (flip left-right, quarter turns) pairs. "flips"
#: keeps the rows and columns as rows and columns (identity, left-right, upside down, half
#: turn); "dihedral" adds the four transposing ones, the 8 symmetries of the square.
TRANSFORMS = {
    "flips": ((False, 0), (True, 0), (False, 2), (True, 2)),
    "dihedral": tuple((flip, turns) for flip in (False, True) for turns in range(4)),
}


def _turn(images, turns):
    """`images` (batch, H, W, C) turned by `turns` quarter turns counter-clockwise, as
    ``numpy.rot90(images, turns, axes=(1, 2))``."""
    turns %= 4
    if turns == 1:
        return keras.ops.transpose(keras.ops.flip(images, axis=2), (0, 2, 1, 3))
    if turns == 2:
        return keras.ops.flip(keras.ops.flip(images, axis=1), axis=2)
    if turns == 3:
        return keras.ops.flip(keras.ops.transpose(images, (0, 2, 1, 3)), axis=2)
    return images


def _forward(images, flip, turns):
    return _turn(keras.ops.flip(images, axis=2) if flip else images, turns)


def _backward(images, flip, turns):
    images = _turn(images, -turns)
    return keras.ops.flip(images, axis=2) if flip else images


@keras.saving.register_keras_serializable(package="tfgen")
class TransformStack(layers.Layer):
    """The batch under each transform of `TRANSFORMS[transforms]`, stacked along the batch:
    (batch, H, W, C) -> (T * batch, H, W, C), transform after transform."""

    def __init__(self, transforms="dihedral", **kwargs):
        super().__init__(**kwargs)
        self.transforms = transforms

    def call(self, images):
        group = TRANSFORMS[self.transforms]
        return keras.ops.concatenate([_forward(images, *t) for t in group], axis=0)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        batch = None if batch is None else batch * len(TRANSFORMS[self.transforms])
        return (batch, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "transforms": self.transforms}


@keras.saving.register_keras_serializable(package="tfgen")
class TransformMean(layers.Layer):
    """The inverse of `TransformStack`, averaged: (T * batch, H, W, C) -> (batch, H, W, C),
    ``y = (1 / T) sum_t t^-1(y_t)``, in float32."""

    def __init__(self, transforms="dihedral", **kwargs):
        super().__init__(**kwargs)
        self.transforms = transforms

    def call(self, outputs):
        group = TRANSFORMS[self.transforms]
        parts = keras.ops.split(keras.ops.cast(outputs, "float32"), len(group), axis=0)
        restored = [_backward(part, *t) for part, t in zip(parts, group, strict=True)]
        return keras.ops.mean(keras.ops.stack(restored), axis=0)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        batch = None if batch is None else batch // len(TRANSFORMS[self.transforms])
        return (batch, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "transforms": self.transforms}


def self_ensemble(network, transforms="dihedral") -> keras.Model:
    """`network` averaged over geometric transforms of its input, at test time.

    ``y(x) = (1 / |G|) sum_{g in G} g^-1(f(g(x)))`` over a group G of flips and quarter turns
    (the "self-ensemble" of Timofte et al. 2016, "Seven ways to improve example-based single
    image super resolution", and Lim et al. 2017, EDSR): a network trained on crops flipped and
    turned at random is about as good on each transformed image, and its errors there are
    partly independent, so their mean is closer to the clean image. It costs |G| forward
    passes (run as one batch |G| times as large); training is unchanged.

    For JPEG artefacts, the 8x8 block grid (16x16 with chroma subsampling) maps onto itself
    under every transform when the sides are multiples of 16. Flips keep each block's rows as
    rows, so JPEG's quantisation (whose table is not symmetric) treats a flipped image almost
    as it treated the original: on the held-out 32x32 crops, compressing a flipped crop and
    flipping back differs from compressing the crop by 0.2 of 255 levels on average, a
    transposed one by 3. Yet "dihedral" scored 0.01-0.04 dB above "flips" there
    (BENCHMARKS.md, restoration section).

    Args:
        network: A built image-to-image `keras.Model` (e.g. `unet`, or an `Autoencoder`'s
            decoder), images (batch, H, W, C) -> images of the same shape.
        transforms: "dihedral" (default): the 8 symmetries of the square, for square images;
            "flips": identity, left-right, upside down and half turn (any H, W).

    Returns:
        A `keras.Model` named "self_ensemble" with the input shape of `network`, float32
        outputs; it saves and loads like `network` (`TransformStack`, `TransformMean` are
        registered layers).

    Raises:
        ValueError: `network` is not a built single-input image model, `transforms` unknown,
            or "dihedral" for images that are not square.
    """
    built_model(network, "network")
    if not isinstance(transforms, str) or transforms not in TRANSFORMS:
        raise ValueError(f"transforms must be one of {tuple(TRANSFORMS)}, got {transforms!r}")
    shape = tuple(network.input_shape)
    if len(shape) != 4 or tuple(network.output_shape) != shape:
        raise ValueError(
            "network must map images (batch, H, W, C) to images of the same shape, got "
            f"input shape {network.input_shape} and output shape {network.output_shape}"
        )
    height, width = shape[1:3]
    if transforms == "dihedral" and (height is None or height != width):
        raise ValueError(
            f"transforms='dihedral' turns images by quarter turns and needs square images of "
            f"a fixed side, got input shape {shape}: use transforms='flips'"
        )
    images = keras.Input(shape=shape[1:], name="images")
    stacked = TransformStack(transforms, name="transforms")(images)
    outputs = TransformMean(transforms, dtype="float32", name="mean")(network(stacked))
    return keras.Model(images, outputs, name="self_ensemble")
