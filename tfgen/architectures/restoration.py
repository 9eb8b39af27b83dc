"""The restoration U-Net and its inpainting layers (`KnownPixels`, `BlurFill`)."""

from __future__ import annotations

import math

import keras
from keras import layers

from tfgen._checks import boolean, is_int, non_negative_int, number, positive_int
from tfgen.architectures._blocks import (
    ALLOWED_CHANNELS,
    MAX_WIDTH,
    OUTPUT_KERNEL_SIZE,
    _check_negative_slope,
    _relu,
    _to_image,
)
from tfgen.layers import Conv2D


def _keep_known(images, known, outputs):
    """``y = m * x + (1 - m) * u = u + m * (x - u)``, in float32: the known pixels pass."""
    images, known = (
        layers.Activation("linear", dtype="float32", name=f"{name}_float32")(t)
        for name, t in (("known_input", images), ("known", known))
    )
    difference = layers.Subtract(name="known_minus_output")([images, outputs])
    kept = layers.Multiply(name="known_part")([known, difference])
    return layers.Add(name="keep_known")([outputs, kept])


@keras.saving.register_keras_serializable(package="tfgen")
class KnownPixels(layers.Layer):
    """1 where a pixel is known, 0 where it holds `fill_value` in every channel (a hole).

    Images in [-1, 1] from 8-bit pixels (p / 127.5 - 1) never hold 0 exactly, the default fill
    of `tfgen.corruptions.RandomMask`, so its holes are found from the image alone.
    """

    def __init__(self, fill_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.fill_value = float(fill_value)

    def call(self, images):
        hole = keras.ops.all(keras.ops.equal(images, self.fill_value), axis=-1, keepdims=True)
        return 1.0 - keras.ops.cast(hole, images.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "fill_value": self.fill_value}


#: Largest sigma of `BlurFill` (its kernel spans 8 sigma + 1 pixels).
MAX_BLUR_FILL_SIGMA = 16.0


@keras.saving.register_keras_serializable(package="tfgen")
class BlurFill(layers.Layer):
    """Fills the holes of images by normalised convolution, keeping the known pixels.

    ``u = m * x + (1 - m) * (G * (m x)) / (G * m)`` (Knutsson & Westin 1993, "Normalized and
    Differential Convolution"), with ``G`` a Gaussian of standard deviation `sigma`, truncated at
    ``round(4 sigma)`` pixels as `scipy.ndimage.gaussian_filter` does, and zero padding: outside
    the image counts as unknown, so the weights renormalise at the border as at a hole. A hole
    with no known pixel within the kernel gets 0. Called on ``[images, known]`` (known: 1 where
    a pixel is known, one channel); computed in float32 with two depthwise convolutions, which
    XLA compiles.
    """

    def __init__(self, sigma=1.5, **kwargs):
        super().__init__(**kwargs)
        number(sigma, "sigma (unet's blur_fill)", 0, MAX_BLUR_FILL_SIGMA, low_open=True)
        self.sigma = float(sigma)

    def _kernel(self, channels):
        radius = int(4.0 * self.sigma + 0.5)
        offsets = keras.ops.arange(-radius, radius + 1, dtype="float32")
        weights = keras.ops.exp(-0.5 * (offsets / self.sigma) ** 2)
        weights = weights / keras.ops.sum(weights)
        return keras.ops.tile(weights[:, None, None, None], (1, 1, channels, 1))

    def call(self, inputs):
        images, known = (keras.ops.cast(t, "float32") for t in inputs)
        stacked = keras.ops.concatenate([images * known, known], axis=-1)
        kernel = self._kernel(stacked.shape[-1])
        for taps in (kernel, keras.ops.transpose(kernel, (1, 0, 2, 3))):  # rows, then columns
            stacked = keras.ops.depthwise_conv(stacked, taps, padding="same")
        weighted, weight = stacked[..., :-1], stacked[..., -1:]
        covered = weight > 1e-6
        filled = keras.ops.where(covered, weighted / keras.ops.where(covered, weight, 1.0), 0.0)
        return known * images + (1.0 - known) * filled

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma}


def unet(
    image_shape,
    base_filters: int = 32,
    depth: int = 2,
    residual: bool = True,
    negative_slope: float = 0.0,
    inpaint_fill: float | None = None,
    blur_fill: float | None = None,
) -> keras.Model:
    """A small U-Net for image restoration (Ronneberger et al. 2015, "U-Net: Convolutional
    Networks for Biomedical Image Segmentation"), image to image of the same shape.

    ``level l (filters base_filters * 2^l): [Conv2D(3) -> ReLU] x 2``; between levels a 2x2
    max-pool down and a ``Conv2DTranspose(2, stride 2)`` up, the up-sampled features
    concatenated with the same level's features on the way down (the skip connections), so
    fine detail need not pass the bottleneck. Odd sides are handled: pooling rounds up, and the
    up-sampled map is cropped back to its skip's size.

    With ``residual=True`` (the default) the network predicts the correction to its input
    (Zhang et al. 2017, "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image
    Denoising"): ``y = clip(x + r(x), -1, 1)``, the last convolution starting at zero so that
    the untrained network is the identity and a restoration starts from the degraded image
    itself (e.g. the bicubic upsampling of super-resolution). Otherwise ``y = tanh(r(x))``.
    Outputs are float32 images in [-1, 1] under any dtype policy.

    Use it alone (`tfgen.models.Autoencoder(None, unet(...))`, trained with `fit` like any
    reconstruction model) or as the network of `tfgen.reconstruct.deep_image_prior`.

    Args:
        image_shape: ``(height, width, channels)``, any positive sides, channels in
            ALLOWED_CHANNELS.
        base_filters: Filters of the full-resolution level, positive int. Defaults to 32.
        depth: Number of down-sampling steps, int >= 0 (0: no pooling). Defaults to 2.
        residual: Whether to predict the correction to the input. Defaults to True.
        negative_slope: Slope of the activations below zero: 0 for ReLU, > 0 for a LeakyReLU
            (the deep image prior uses 0.2, which keeps units from dying). Defaults to 0.
        inpaint_fill: None, or the fill value of the holes of an inpainting task (0 for
            `RandomMask`'s default): the network then finds the holes (`KnownPixels`: pixels
            equal to it in every channel), takes the mask as an extra input channel, and keeps
            the known pixels, ``y = m * x + (1 - m) * u(x, m)``, so its loss falls on the holes
            alone. With the identity start of `residual`, an l1 loss on every pixel otherwise
            stays at the identity: any change costs on the known pixels what it gains on the
            holes. Defaults to None.
        blur_fill: None, or (with `inpaint_fill`) the sigma of a Gaussian normalised
            convolution (`BlurFill`) that fills the holes before the network sees them: the
            network takes the filled image and the mask, and with `residual` predicts the
            correction to the fill, so that the untrained network is the classical blur fill
            and training starts from it. Defaults to None.

    Returns:
        ``keras.Model`` named "unet": images (batch, H, W, C) in [-1, 1] -> float32 images of
        the same shape in [-1, 1].
    """
    allowed = f"(height, width, channels) with positive sides and channels in {ALLOWED_CHANNELS}"
    try:
        dims = tuple(image_shape)
    except TypeError:
        raise ValueError(f"image_shape must be {allowed}, got {image_shape!r}") from None
    if (
        len(dims) != 3
        or not all(is_int(d) and d >= 1 for d in dims)
        or dims[2] not in ALLOWED_CHANNELS
    ):
        raise ValueError(f"image_shape must be {allowed}, got {image_shape!r}")
    height, width, channels = (int(d) for d in dims)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    non_negative_int(depth, "depth")
    number(inpaint_fill, "inpaint_fill", -1, 1, optional=True)
    if blur_fill is not None and inpaint_fill is None:
        raise ValueError(
            f"blur_fill={blur_fill!r} fills holes: it needs inpaint_fill (the holes' value) too"
        )
    if depth > math.log2(min(height, width)):
        raise ValueError(
            f"depth={depth} halves the image {depth} times, too often for {height}x{width}: "
            f"use depth <= {int(math.log2(min(height, width)))}"
        )
    residual = boolean(residual, "residual")
    negative_slope = _check_negative_slope(negative_slope)

    def block(x, filters, name):
        for i in (1, 2):
            x = Conv2D(filters, 3, padding="same", name=f"{name}_conv{i}")(x)
            x = _relu(x, negative_slope, f"{name}_relu{i}")
        return x

    images = keras.Input(shape=(height, width, channels), name="images")
    x = start = images  # start: what the residual output corrects
    if inpaint_fill is not None:
        known = KnownPixels(float(inpaint_fill), name="known_pixels")(images)
        if blur_fill is not None:
            x = start = BlurFill(blur_fill, dtype="float32", name="blur_fill")([images, known])
        x = layers.Concatenate(name="with_mask")([x, known])
    skips = []
    for level in range(depth):
        x = block(x, base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{level}")(x)
    x = block(x, base_filters * 2**depth, "bottom")
    for level in reversed(range(depth)):
        skip = skips[level]
        x = layers.Conv2DTranspose(
            base_filters * 2**level, 2, strides=2, name=f"up{level}_transpose"
        )(x)
        # Pooling rounded an odd side up; the doubled map is then one pixel too large.
        extra_h, extra_w = (
            int(x.shape[1]) - int(skip.shape[1]),
            int(x.shape[2]) - int(skip.shape[2]),
        )
        if extra_h or extra_w:
            x = layers.Cropping2D(((0, extra_h), (0, extra_w)), name=f"up{level}_crop")(x)
        x = layers.Concatenate(name=f"up{level}_skip")([x, skip])
        x = block(x, base_filters * 2**level, f"up{level}")
    if not residual:
        outputs = _to_image(x, channels)
        if inpaint_fill is None:
            return keras.Model(images, outputs, name="unet")
        return keras.Model(images, _keep_known(images, known, outputs), name="unet")
    correction = Conv2D(
        channels, OUTPUT_KERNEL_SIZE, padding="same", kernel_initializer="zeros", name="correction"
    )(x)
    # The sum in float32 under a mixed policy: a small correction to a float16 image rounds away.
    as_float32 = [
        layers.Activation("linear", dtype="float32", name=f"{name}_float32")(t)
        for name, t in (("input", start), ("correction", correction))
    ]
    restored = layers.Add(name="residual")(as_float32)
    outputs = layers.Activation("hard_tanh", dtype="float32", name="image")(restored)
    if inpaint_fill is not None:
        outputs = _keep_known(images, known, outputs)
    return keras.Model(images, outputs, name="unet")
