"""Constants and building blocks shared by the architectures (`tfgen.architectures`)."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers

from tfgen._checks import is_int, number, positive_int
from tfgen.activations import LeakyReLU
from tfgen.layers import BatchNormalization, Conv2D

#: Smallest and largest image side accepted (powers of two).
MIN_SIDE = 8
MAX_SIDE = 256
#: Largest latent_dim and base_filters accepted: wider networks (with the filter growth below,
#: 8 x 4096 filters at the smallest feature map) would not fit in memory and fail mid-build.
MAX_WIDTH = 4096
#: Largest kernel_size accepted by the DCGAN builders.
MAX_KERNEL_SIZE = 15
#: Largest number of stride-1 convolutions per resolution in the DCGAN discriminator.
MAX_EXTRA_CONVS = 8
#: Largest num_classes accepted (ImageNet-21k has 21,841 classes).
MAX_CLASSES = 100_000
#: Grayscale or RGB.
ALLOWED_CHANNELS = (1, 3)
#: Spatial size of the smallest feature map (generator input projection, discriminator output).
START_SIZE = 4
#: Kernel of the encoder's and decoder's strided convolutions: 4 is divisible by the stride
#: 2, which avoids the checkerboard artefacts of transposed convolutions with uneven overlap.
KERNEL_SIZE = 4
#: Default kernel of the DCGAN builders' strided (transposed) convolutions. Chosen by
#: benchmarks/gan_ablation.py (BENCHMARKS.md, "GAN defaults by ablation"): in the same
#: training budget on the digits, kernel 3 gave a mean FID 0.51x the kernel-4 baseline's at
#: 8x8 and 0.48x at 16x16 (2 seeds each; kernel 5: 1.07x and 1.50x). A stride-2 transposed
#: convolution with kernel 3 overlaps unevenly, the source of checkerboard patterns (Odena et
#: al. 2016); from 32x32 up the generator resizes instead (NEAREST_UPSAMPLING_MIN_SIDE).
DCGAN_KERNEL_SIZE = 3
#: Default width of the DCGAN builders (filters of the full-resolution block). Chosen by the
#: same ablation: 32 gave a mean FID 0.62x that of 64 at 8x8 and 0.63x at 16x16 in the same
#: budget, taking 2.2-3.1x as many (cheaper) steps.
DCGAN_BASE_FILTERS = 32
STRIDE = 2
#: How the DCGAN generator doubles its feature maps: a strided transposed convolution, or a
#: nearest / bilinear resize followed by a stride-1 convolution (Odena et al. 2016,
#: "Deconvolution and Checkerboard Artifacts"); "auto" chooses by size (below).
UPSAMPLING = ("auto", "transpose", "nearest", "bilinear")
#: From this side up `dcgan_generator(upsampling="auto")` resizes (nearest) and convolves
#: instead of transposed convolutions. benchmarks/photos_checkerboard.py (BENCHMARKS.md, issue
#: 26), photos at 32x32, 1,500 steps: transposed convolutions of kernel 3 put 0.032 of the
#: samples' spectral energy at the period-2 frequencies (kernel 4: 0.028), a checkerboard one
#: sees in the grid; nearest + conv 0.0015, the held-out crops' own 0.0017, with SWD 0.89x
#: kernel 3's. Below it the ablation's choice stands (transposed: 1.64x better FID at 16x16).
NEAREST_UPSAMPLING_MIN_SIDE = 32
#: Kernel of the stride-1 convolution that maps features to image channels.
OUTPUT_KERNEL_SIZE = 3
#: LeakyReLU slope in the discriminator (Radford et al. 2015, "Unsupervised Representation
#: Learning with Deep Convolutional GANs", section 3).
LEAKY_RELU_SLOPE = 0.2
#: Default slope below zero of the DCGAN generator's activations: LeakyReLU(0.2), where Radford
#: et al. use ReLU. Chosen by benchmarks/gan_ablation.py (BENCHMARKS.md, "GAN defaults by
#: ablation"): in the same training budget on the digits, it gave a mean FID 0.83x ReLU's at
#: 8x8 and 0.44x at 16x16 from the original defaults (2 seeds), and 0.91x at both sizes from
#: the defaults the ablation chose (6 runs against 3).
DCGAN_GENERATOR_NEGATIVE_SLOPE = LEAKY_RELU_SLOPE
#: Weights initialised from N(0, 0.02^2) (Radford et al. 2015, section 4).
WEIGHT_INIT_STDDEV = 0.02
#: Filters grow by 2 per halving of resolution, capped at this multiple of base_filters
#: (DCGAN's 64x64 generator spans 8x: 1024 filters at 4x4 down to 128).
MAX_FILTER_MULTIPLIER = 8
#: Batch-normalisation moving-average momentum, 0.9 as in common DCGAN implementations (PyTorch's
#: default update rate 0.1); Keras' default 0.99 trails the generator's changing statistics.
BATCH_NORM_MOMENTUM = 0.9
#: Size of the label embedding concatenated to the latent code in a conditional generator.
LABEL_EMBEDDING_DIM = 32


def check_image_shape(image_shape) -> tuple[int, int, int]:
    """Validate ``image_shape`` and return it as a tuple of three ints.

    Allowed: ``(side, side, channels)`` with ``side`` a power of two from MIN_SIDE to MAX_SIDE
    and ``channels`` in ALLOWED_CHANNELS.

    Raises:
        ValueError: otherwise, naming the value given and what is allowed.
    """
    allowed = (
        f"(side, side, channels) with side a power of two from {MIN_SIDE} to {MAX_SIDE} "
        f"and channels in {ALLOWED_CHANNELS}"
    )
    try:
        dims = tuple(image_shape)
    except TypeError:
        raise ValueError(f"image_shape must be {allowed}, got {image_shape!r}") from None
    if len(dims) != 3 or not all(is_int(d) for d in dims):
        raise ValueError(f"image_shape must be {allowed}, got {image_shape!r}")
    height, width, channels = (int(d) for d in dims)
    side_ok = height == width and MIN_SIDE <= height <= MAX_SIDE and height & (height - 1) == 0
    if not side_ok or channels not in ALLOWED_CHANNELS:
        raise ValueError(f"image_shape must be {allowed}, got {image_shape!r}")
    return (height, width, channels)


def _num_resolution_steps(side: int) -> int:
    """Number of factor-2 steps between START_SIZE and ``side``."""
    return int(math.log2(side // START_SIZE))


def _filters(base_filters: int, doublings: int) -> int:
    return base_filters * min(2**doublings, MAX_FILTER_MULTIPLIER)


def _init():
    return keras.initializers.RandomNormal(stddev=WEIGHT_INIT_STDDEV)


def _batch_norm(name, affine=True):
    # Under tf.distribute the batch statistics span all replicas (cross-replica batch norm, as
    # in BigGAN), so N replicas normalise exactly as one device with the same global batch.
    # Without a strategy the plain layer is used (Keras' synchronized path computes the
    # variance as E[x^2] - E[x]^2 over an extra tensor of ones, slower and less exact), and
    # tfgen's subclass of it trains with TensorFlow's fused kernel where that is faster.
    return BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM,
        center=affine,
        scale=affine,
        synchronized=tf.distribute.has_strategy(),
        name=name,
    )


def _normalize(x, name, labels, num_classes):
    """Batch normalisation, class-conditional when ``labels`` is given.

    Conditional batch normalisation (de Vries et al. 2017; Miyato & Koyama 2018, section 4):
    ``BN(x) * (1 + gamma[y]) + beta[y]`` with one learned gain and bias vector per class, taken
    from two embeddings that start at zero, so an untrained model normalises as plain BN.
    """
    if labels is None:
        return _batch_norm(name)(x)
    channels = x.shape[-1]
    x = _batch_norm(name, affine=False)(x)

    def per_class(kind):
        embedded = layers.Embedding(
            num_classes, channels, embeddings_initializer="zeros", name=f"{name}_{kind}"
        )(labels)
        return layers.Reshape((1, 1, channels), name=f"{name}_{kind}_reshape")(embedded)

    gain = layers.Multiply(name=f"{name}_gain")([x, per_class("gamma")])
    return layers.Add(name=f"{name}_conditional")([x, gain, per_class("beta")])


def _upsampling_stack(
    x,
    side: int,
    base_filters: int,
    batch_norm: bool,
    labels=None,
    num_classes=None,
    upsampling: str = "transpose",
    kernel_size: int = KERNEL_SIZE,
    negative_slope: float = 0.0,
):
    """Dense projection to START_SIZE^2 features, then factor-2 upsampling blocks up to ``side``.

    Resolution START_SIZE * 2^k carries ``base_filters * min(2^(n - k), cap)`` filters, n being
    the number of upsampling blocks, so the last block has ``base_filters`` filters. A block is
    a strided transposed convolution (``upsampling="transpose"``) or a resize and a stride-1
    convolution. With ``labels`` the batch normalisations are class-conditional.
    """
    n_blocks = _num_resolution_steps(side)
    start_filters = _filters(base_filters, n_blocks)
    # A bias before batch normalisation is redundant: BN subtracts it again.
    x = layers.Dense(
        START_SIZE * START_SIZE * start_filters,
        use_bias=not batch_norm,
        kernel_initializer=_init(),
        name="project",
    )(x)
    x = layers.Reshape((START_SIZE, START_SIZE, start_filters), name="reshape")(x)
    if batch_norm:
        x = _normalize(x, "project_bn", labels, num_classes)
    x = _relu(x, negative_slope, "project_relu")
    for block in range(1, n_blocks + 1):
        filters = _filters(base_filters, n_blocks - block)
        common = dict(
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=_init(),
            name=f"up{block}_conv",
        )
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(filters, kernel_size, strides=STRIDE, **common)(x)
        else:
            x = layers.UpSampling2D(STRIDE, interpolation=upsampling, name=f"up{block}_resize")(x)
            x = Conv2D(filters, kernel_size, **common)(x)
        if batch_norm:
            x = _normalize(x, f"up{block}_bn", labels, num_classes)
        x = _relu(x, negative_slope, f"up{block}_relu")
    return x


def _relu(x, negative_slope: float, name: str):
    """ReLU, or a LeakyReLU when ``negative_slope`` > 0 (tfgen's, whose gradient lets
    grappler's remapper fuse a convolution with it: see tfgen/activations.py)."""
    if negative_slope == 0:
        return layers.ReLU(name=name)(x)
    return LeakyReLU(negative_slope=negative_slope, name=name)(x)


def _check_negative_slope(value) -> float:
    return number(value, "negative_slope", 0, 1, high_open=True)


def _to_image(x, channels: int):
    """Stride-1 conv to ``channels`` and a float32 tanh: images in [-1, 1] under any policy."""
    x = Conv2D(
        channels,
        OUTPUT_KERNEL_SIZE,
        padding="same",
        kernel_initializer=_init(),
        name="to_image",
    )(x)
    return layers.Activation("tanh", dtype="float32", name="image")(x)


def _num_classes(value):
    return None if value is None else positive_int(value, "num_classes", MAX_CLASSES)


def _labels_input():
    return keras.Input(shape=(), dtype="int32", name="labels")


def _check_kernel_size(value):
    return positive_int(value, "kernel_size", MAX_KERNEL_SIZE)


def _check_upsampling(value):
    if value not in UPSAMPLING:
        raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {value!r}")
    return value


def _maybe_spectral(layer, spectral_norm: bool):
    # Spectral normalisation divides each kernel by its largest singular value, estimated by
    # power iteration during training calls (Miyato et al. 2018, "Spectral Normalization for
    # Generative Adversarial Networks"), making the layer (approximately) 1-Lipschitz.
    return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer


def _downsampling_stack(
    x,
    side: int,
    base_filters: int,
    spectral_norm: bool,
    kernel_size: int = KERNEL_SIZE,
    extra_convs: int = 0,
):
    """Strided convs + LeakyReLU from ``side`` down to START_SIZE, filters doubling per block.

    Each block may start with ``extra_convs`` stride-1 3x3 convolutions (+ LeakyReLU) at its
    input resolution, as in SNGAN's "standard CNN" discriminator (Miyato et al. 2018, Table 3).
    No batch normalisation: it makes each example's output depend on the rest of the batch,
    which corrupts per-example input gradients (WGAN-GP, R1) and makes results depend on how a
    global batch is split across replicas. Gulrajani et al. 2017 likewise drop it from critics.
    """
    for block in range(_num_resolution_steps(side)):
        filters = _filters(base_filters, block)
        for extra in range(1, extra_convs + 1):
            name = f"down{block + 1}_extra{extra}"
            conv = Conv2D(
                filters, 3, padding="same", kernel_initializer=_init(), name=f"{name}_conv"
            )
            x = _maybe_spectral(conv, spectral_norm)(x)
            x = LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=f"{name}_lrelu")(x)
        conv = Conv2D(
            filters,
            kernel_size,
            strides=STRIDE,
            padding="same",
            kernel_initializer=_init(),
            name=f"down{block + 1}_conv",
        )
        x = _maybe_spectral(conv, spectral_norm)(x)
        x = LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=f"down{block + 1}_lrelu")(x)
    return layers.Flatten(name="flatten")(x)


def _discriminator_head(images, features, spectral_norm, num_classes, initializer):
    """The logit ``w . phi(x) + b``, plus ``V[y] . phi(x)`` for a projection discriminator."""
    dense = layers.Dense(1, kernel_initializer=initializer, name="logit_dense")
    x = _maybe_spectral(dense, spectral_norm)(features)
    inputs = images
    if num_classes is not None:
        labels = _labels_input()
        projection = layers.Embedding(
            num_classes,
            features.shape[-1],
            embeddings_initializer=initializer,
            name="label_projection",
        )
        embedded = _maybe_spectral(projection, spectral_norm)(labels)
        inner = layers.Dot(axes=1, name="projection")([embedded, features])
        x = layers.Add(name="logit_and_projection")([x, inner])
        inputs = [images, labels]
    logits = layers.Activation("linear", dtype="float32", name="logit")(x)
    return keras.Model(inputs, logits, name="discriminator")
