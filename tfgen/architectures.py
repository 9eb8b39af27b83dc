"""Convolutional generators, discriminators, encoders and decoders as functional Keras models.

The DCGAN and encoder/decoder builders take square images ``(side, side, channels)`` with
``side`` a power of two in [MIN_SIDE, MAX_SIDE] and ``channels`` in ALLOWED_CHANNELS. Feature
maps go between START_SIZE x START_SIZE and ``side`` x ``side`` by factors of two, one strided
(transposed) convolution each. The restoration U-Net (`unet`) maps images of any size to
images of the same size.

Images produced (generator, decoder) are float32 in [-1, 1] (tanh); every model's outputs are
float32 even under a ``mixed_float16`` dtype policy, so losses are computed in full precision.
Only built-in Keras layers are used, so the models save to ``.keras`` and load with
``safe_mode=True`` without custom objects.

With ``num_classes=K`` the DCGAN builders are class-conditional: both take a second input, integer
``labels`` of shape (batch,) in [0, K), named "labels" (the generator ``[z, labels]``, the
discriminator ``[images, labels]``).
"""

from __future__ import annotations

import math
import numbers

import keras
import tensorflow as tf
from keras import layers

from tfgen._checks import boolean, positive_int
from tfgen.activations import LeakyReLU
from tfgen.layers import BatchNormalization, Conv2D

__all__ = [
    "ALLOWED_CHANNELS",
    "BATCH_NORM_MOMENTUM",
    "DCGAN_BASE_FILTERS",
    "DCGAN_GENERATOR_NEGATIVE_SLOPE",
    "DCGAN_KERNEL_SIZE",
    "KERNEL_SIZE",
    "LABEL_EMBEDDING_DIM",
    "LEAKY_RELU_SLOPE",
    "MAX_EXTRA_CONVS",
    "MAX_FILTER_MULTIPLIER",
    "MAX_KERNEL_SIZE",
    "MAX_SIDE",
    "MAX_WIDTH",
    "MAX_CLASSES",
    "MIN_SIDE",
    "NEAREST_UPSAMPLING_MIN_SIDE",
    "RESNET_MIN_SIDE",
    "OUTPUT_KERNEL_SIZE",
    "START_SIZE",
    "STRIDE",
    "UPSAMPLING",
    "WEIGHT_INIT_STDDEV",
    "check_image_shape",
    "conv_decoder",
    "conv_encoder",
    "dcgan_discriminator",
    "dcgan_generator",
    "resnet_discriminator",
    "resnet_generator",
    "unet",
]

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
    if len(dims) != 3 or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims
    ):
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
    """ReLU, or a LeakyReLU when ``negative_slope`` > 0."""
    if negative_slope == 0:
        return layers.ReLU(name=name)(x)
    return layers.LeakyReLU(negative_slope=negative_slope, name=name)(x)


def _check_negative_slope(value) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not 0.0 <= value < 1.0:
        raise ValueError(f"negative_slope must be a number in [0, 1), got {value!r}")
    return float(value)


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


def dcgan_generator(
    image_shape,
    latent_dim: int = 128,
    base_filters: int = DCGAN_BASE_FILTERS,
    num_classes=None,
    upsampling: str = "auto",
    batch_norm: bool = True,
    kernel_size: int = DCGAN_KERNEL_SIZE,
    negative_slope: float = DCGAN_GENERATOR_NEGATIVE_SLOPE,
) -> keras.Model:
    """DCGAN generator (Radford et al. 2015, "Unsupervised Representation Learning with Deep
    Convolutional Generative Adversarial Networks").

    ``z (latent_dim,) -> Dense -> (4, 4, C0) -> BN -> LeakyReLU(0.2) -> [Conv2DTranspose(3,
    stride 2) -> BN -> LeakyReLU(0.2)] x n -> Conv2D(channels, 3) -> tanh``, with
    ``n = log2(side / 4)`` and filters halving per block down to ``base_filters`` (from at
    most ``MAX_FILTER_MULTIPLIER * base_filters``).
    With ``upsampling="nearest"`` or ``"bilinear"`` each transposed convolution is replaced by
    a resize to twice the side and a stride-1 ``Conv2D(kernel_size)`` (Odena et al. 2016).

    With ``num_classes=K`` the model takes ``[z, labels]``: the label's embedding
    (LABEL_EMBEDDING_DIM values) is concatenated to ``z``, and every batch normalisation is
    conditional, ``BN(x) * (1 + gamma[y]) + beta[y]`` (de Vries et al. 2017, as in the projection
    cGAN's generator, Miyato & Koyama 2018).

    Args:
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        latent_dim: Size of the latent vector, positive int. Defaults to 128.
        base_filters: Filters of the last (full-resolution) block, positive int. Defaults to
            DCGAN_BASE_FILTERS (32, chosen by benchmarks/gan_ablation.py).
        num_classes: ``None`` (unconditional) or the number of classes, positive int.
        upsampling: One of UPSAMPLING: ``"transpose"`` (strided transposed convolutions),
            ``"nearest"`` or ``"bilinear"`` (resize, then convolve), or ``"auto"``:
            ``"transpose"`` below NEAREST_UPSAMPLING_MIN_SIDE (32) and ``"nearest"`` from it
            up, where transposed convolutions leave a checkerboard. Defaults to ``"auto"``.
        batch_norm: Whether to batch-normalise after the projection and every block (the
            conditional generator requires it). Defaults to True.
        kernel_size: Kernel side of the upsampling convolutions, positive int. Defaults to
            DCGAN_KERNEL_SIZE (3, chosen by benchmarks/gan_ablation.py).
        negative_slope: Slope below zero of the generator's activations, in [0, 1): 0 for
            Radford et al.'s ReLU, > 0 for a LeakyReLU. Defaults to
            DCGAN_GENERATOR_NEGATIVE_SLOPE (0.2, chosen by benchmarks/gan_ablation.py).

    Returns:
        ``keras.Model`` named "generator": (batch, latent_dim) [and int32 labels (batch,)] ->
        float32 images in [-1, 1].
    """
    side, _, channels = check_image_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    num_classes = _num_classes(num_classes)
    upsampling = _check_upsampling(upsampling)
    if upsampling == "auto":
        upsampling = "nearest" if side >= NEAREST_UPSAMPLING_MIN_SIDE else "transpose"
    batch_norm = boolean(batch_norm, "batch_norm")
    kernel_size = _check_kernel_size(kernel_size)
    negative_slope = _check_negative_slope(negative_slope)
    if num_classes is not None and not batch_norm:
        raise ValueError(
            "batch_norm=False is not available with num_classes: the labels act through the "
            "conditional batch normalisations"
        )
    stack = dict(upsampling=upsampling, kernel_size=kernel_size, negative_slope=negative_slope)
    z = keras.Input(shape=(latent_dim,), name="latent")
    if num_classes is None:
        x = _upsampling_stack(z, side, base_filters, batch_norm, **stack)
        return keras.Model(z, _to_image(x, channels), name="generator")
    labels = _labels_input()
    embedded = layers.Embedding(
        num_classes, LABEL_EMBEDDING_DIM, embeddings_initializer=_init(), name="label_embedding"
    )(labels)
    x = layers.Concatenate(name="latent_and_label")([z, embedded])
    x = _upsampling_stack(x, side, base_filters, True, labels, num_classes, **stack)
    return keras.Model([z, labels], _to_image(x, channels), name="generator")


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


def dcgan_discriminator(
    image_shape,
    base_filters: int = DCGAN_BASE_FILTERS,
    spectral_norm: bool = False,
    num_classes=None,
    kernel_size: int = DCGAN_KERNEL_SIZE,
    extra_convs: int = 0,
) -> keras.Model:
    """DCGAN discriminator (Radford et al. 2015) without batch normalisation.

    ``x -> [Conv2D(3, stride 2) -> LeakyReLU(0.2)] x n -> Flatten -> Dense(1)``, from ``side``
    down to 4x4, filters doubling from ``base_filters`` (capped at ``MAX_FILTER_MULTIPLIER``
    times). With ``extra_convs=m`` every block starts with ``m`` stride-1 ``Conv2D(3)`` and
    LeakyReLU pairs at its input resolution (deeper, as SNGAN's standard CNN). With
    ``spectral_norm`` every Conv2D/Dense (and the label embedding) is wrapped in
    ``keras.layers.SpectralNormalization`` (Miyato et al. 2018).

    With ``num_classes=K`` it is a projection discriminator (Miyato & Koyama 2018, "cGANs with
    Projection Discriminator", eq. 3) taking ``[images, labels]``:
    ``D(x, y) = w . phi(x) + b + V[y] . phi(x)``, ``phi(x)`` the flattened features and ``V``
    a learned (K, features) embedding, named "label_projection".

    Args:
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        base_filters: Filters of the first (full-resolution) block, positive int. Defaults to
            DCGAN_BASE_FILTERS (32, chosen by benchmarks/gan_ablation.py).
        spectral_norm: Whether to spectrally normalise the weights. Defaults to False.
        num_classes: ``None`` (unconditional) or the number of classes, positive int.
        kernel_size: Kernel side of the strided convolutions, positive int. Defaults to
            DCGAN_KERNEL_SIZE (3, chosen by benchmarks/gan_ablation.py).
        extra_convs: Stride-1 3x3 convolutions before each strided one, int in
            [0, MAX_EXTRA_CONVS]. Defaults to 0.

    Returns:
        ``keras.Model`` named "discriminator": images in [-1, 1] (and int32 labels (batch,)) ->
        float32 logits (batch, 1).
    """
    side, _, channels = check_image_shape(image_shape)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    if not isinstance(spectral_norm, bool):
        raise ValueError(f"spectral_norm must be a bool, got {spectral_norm!r}")
    num_classes = _num_classes(num_classes)
    kernel_size = _check_kernel_size(kernel_size)
    if (
        isinstance(extra_convs, bool)
        or not isinstance(extra_convs, numbers.Integral)
        or not 0 <= extra_convs <= MAX_EXTRA_CONVS
    ):
        raise ValueError(
            f"extra_convs must be an int in [0, {MAX_EXTRA_CONVS}], got {extra_convs!r}"
        )
    images = keras.Input(shape=(side, side, channels), name="images")
    features = _downsampling_stack(
        images, side, base_filters, spectral_norm, kernel_size, int(extra_convs)
    )
    return _discriminator_head(images, features, spectral_norm, num_classes, _init())


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


def conv_encoder(
    image_shape, latent_dim: int, variational: bool = False, base_filters: int = 64
) -> keras.Model:
    """Convolutional encoder: the discriminator's downsampling trunk with a latent head.

    ``x -> [Conv2D(4, stride 2) -> LeakyReLU(0.2)] x n -> Flatten -> Dense(latent_dim)``.
    With ``variational=True`` (a VAE encoder, Kingma & Welling 2014) the model has TWO outputs,
    ``[z_mean, z_log_var]``, each (batch, latent_dim), from two Dense heads; otherwise one
    output ``z`` (batch, latent_dim). All outputs are float32.

    Args:
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        latent_dim: Size of the code, positive int.
        variational: Whether to output a Gaussian posterior's mean and log-variance.
        base_filters: Filters of the first block, positive int.

    Returns:
        ``keras.Model`` named "encoder".
    """
    side, _, channels = check_image_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    if not isinstance(variational, bool):
        raise ValueError(f"variational must be a bool, got {variational!r}")
    images = keras.Input(shape=(side, side, channels), name="images")
    x = _downsampling_stack(images, side, base_filters, spectral_norm=False)

    def head(name):
        h = layers.Dense(latent_dim, kernel_initializer=_init(), name=f"{name}_dense")(x)
        return layers.Activation("linear", dtype="float32", name=name)(h)

    outputs = [head("z_mean"), head("z_log_var")] if variational else head("z")
    return keras.Model(images, outputs, name="encoder")


def conv_decoder(latent_dim: int, image_shape, base_filters: int = 64) -> keras.Model:
    """Convolutional decoder mirroring :func:`dcgan_generator`, without batch normalisation.

    ``z -> Dense -> (4, 4, C0) -> [Conv2DTranspose(4, stride 2) -> ReLU] x n -> Conv2D -> tanh``.
    Batch normalisation is left out so a reconstruction depends only on its own code.

    Args:
        latent_dim: Size of the code, positive int.
        image_shape: ``(side, side, channels)``; see :func:`check_image_shape`.
        base_filters: Filters of the last (full-resolution) block, positive int.

    Returns:
        ``keras.Model`` named "decoder": (batch, latent_dim) -> float32 images in [-1, 1].
    """
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    side, _, channels = check_image_shape(image_shape)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    z = keras.Input(shape=(latent_dim,), name="latent")
    x = _upsampling_stack(z, side, base_filters, batch_norm=False)
    return keras.Model(z, _to_image(x, channels), name="decoder")


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
    with no known pixel within the kernel keeps 0. Called on ``[images, known]`` (known: 1 where
    a pixel is known, one channel); computed in float32 with two depthwise convolutions, which
    XLA compiles.
    """

    def __init__(self, sigma=1.5, **kwargs):
        super().__init__(**kwargs)
        ok = isinstance(sigma, numbers.Real) and not isinstance(sigma, bool)
        if not ok or not 0.0 < sigma <= MAX_BLUR_FILL_SIGMA:
            raise ValueError(
                f"sigma (unet's blur_fill) must be a number in (0, {MAX_BLUR_FILL_SIGMA}], "
                f"got {sigma!r}"
            )
        self.sigma = float(sigma)

    def _kernel(self, channels):
        radius = int(4.0 * self.sigma + 0.5)
        offsets = keras.ops.arange(-radius, radius + 1, dtype="float32")
        weights = keras.ops.exp(-0.5 * (offsets / self.sigma) ** 2)
        weights = weights / keras.ops.sum(weights)
        return keras.ops.tile(weights[:, None, None, None], (1, 1, channels, 1)), radius

    def call(self, inputs):
        images, known = (keras.ops.cast(t, "float32") for t in inputs)
        stacked = keras.ops.concatenate([images * known, known], axis=-1)
        kernel, _ = self._kernel(stacked.shape[-1])
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
        or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in dims)
        or dims[2] not in ALLOWED_CHANNELS
    ):
        raise ValueError(f"image_shape must be {allowed}, got {image_shape!r}")
    height, width, channels = (int(d) for d in dims)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 0:
        raise ValueError(f"depth must be an int >= 0, got {depth!r}")
    ok = inpaint_fill is None or (
        isinstance(inpaint_fill, numbers.Real) and not isinstance(inpaint_fill, bool)
    )
    if not ok or (inpaint_fill is not None and not -1.0 <= inpaint_fill <= 1.0):
        raise ValueError(f"inpaint_fill must be None or a number in [-1, 1], got {inpaint_fill!r}")
    if blur_fill is not None and inpaint_fill is None:
        raise ValueError(
            f"blur_fill={blur_fill!r} fills holes: it needs inpaint_fill (the holes' value) too"
        )
    if depth > math.log2(min(height, width)):
        raise ValueError(
            f"depth={depth} halves the image {depth} times, too often for {height}x{width}: "
            f"use depth <= {int(math.log2(min(height, width)))}"
        )
    if not isinstance(residual, bool):
        raise ValueError(f"residual must be a bool, got {residual!r}")
    negative_slope = _check_negative_slope(negative_slope)

    def block(x, filters, name):
        for i in (1, 2):
            x = Conv2D(filters, 3, padding="same", name=f"{name}_conv{i}")(x)
            x = layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_relu{i}")(x)
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


# ---------------------------------------------------------------------------------------------
# SNGAN's residual networks (Miyato et al. 2018, appendix B; blocks of Gulrajani et al. 2017).

#: Smallest image side of the residual networks: the discriminator ends with two blocks at 8x8.
RESNET_MIN_SIDE = 32
#: Side at which the residual discriminator stops downsampling.
_RESNET_LAST_SIDE = 8


def _check_resnet_shape(image_shape):
    side, _, channels = check_image_shape(image_shape)
    if side < RESNET_MIN_SIDE:
        raise ValueError(
            f"image_shape must have a side of at least {RESNET_MIN_SIDE} for the residual "
            f"networks (use dcgan_generator/dcgan_discriminator below), got {image_shape!r}"
        )
    return side, channels


def _conv(filters, kernel, name, spectral_norm=False):
    conv = Conv2D(filters, kernel, padding="same", name=name)
    return _maybe_spectral(conv, spectral_norm)


def _generator_block(x, filters, name, labels, num_classes):
    """Up-block: ``BN, ReLU, up, conv3, BN, ReLU, conv3`` plus ``conv1(up(x))``."""
    shortcut = layers.UpSampling2D(2, name=f"{name}_shortcut_up")(x)
    shortcut = _conv(filters, 1, f"{name}_shortcut_conv")(shortcut)
    h = _normalize(x, f"{name}_bn1", labels, num_classes)
    h = layers.ReLU(name=f"{name}_relu1")(h)
    h = layers.UpSampling2D(2, name=f"{name}_up")(h)
    h = _conv(filters, 3, f"{name}_conv1")(h)
    h = _normalize(h, f"{name}_bn2", labels, num_classes)
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(filters, 3, f"{name}_conv2")(h)
    return layers.Add(name=f"{name}_add")([h, shortcut])


def resnet_generator(
    image_shape, latent_dim: int = 128, base_filters: int = 64, num_classes=None
) -> keras.Model:
    """SNGAN's ResNet generator (Miyato et al. 2018, "Spectral Normalization for Generative
    Adversarial Networks", appendix B, Table 4; residual blocks of Gulrajani et al. 2017).

    ``z -> Dense -> (4, 4, C0) -> [up-block] x n -> BN -> ReLU -> Conv2D(channels, 3) -> tanh``
    with ``n = log2(side / 4)``; an up-block computes
    ``conv3(ReLU(BN(conv3(up(ReLU(BN(x))))))) + conv1(up(x))``, ``up`` a nearest-neighbour
    doubling, which avoids the checkerboard of strided transposed convolutions (Odena et al.
    2016). Filters halve per block down to ``base_filters``, as in :func:`dcgan_generator`.
    With ``num_classes=K`` it takes ``[z, labels]`` and its batch normalisations are
    class-conditional (Miyato & Koyama 2018), as in :func:`dcgan_generator`.

    Args:
        image_shape: ``(side, side, channels)``, side a power of two from RESNET_MIN_SIDE (32).
        latent_dim: Size of the latent vector, positive int.
        base_filters: Filters of the last (full-resolution) block, positive int.
        num_classes: ``None`` (unconditional) or the number of classes, positive int.

    Returns:
        ``keras.Model`` named "generator": (batch, latent_dim) [and int32 labels (batch,)] ->
        float32 images in [-1, 1].
    """
    side, channels = _check_resnet_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim", MAX_WIDTH)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    num_classes = _num_classes(num_classes)
    z = keras.Input(shape=(latent_dim,), name="latent")
    labels = None if num_classes is None else _labels_input()
    n_blocks = _num_resolution_steps(side)
    start_filters = _filters(base_filters, n_blocks)
    x = layers.Dense(START_SIZE * START_SIZE * start_filters, name="project")(z)
    x = layers.Reshape((START_SIZE, START_SIZE, start_filters), name="reshape")(x)
    for block in range(1, n_blocks + 1):
        filters = _filters(base_filters, n_blocks - block)
        x = _generator_block(x, filters, f"up{block}", labels, num_classes)
    x = _normalize(x, "out_bn", labels, num_classes)
    x = layers.ReLU(name="out_relu")(x)
    inputs = z if labels is None else [z, labels]
    return keras.Model(inputs, _to_image(x, channels), name="generator")


def _discriminator_block(x, filters, name, downsample, first, spectral_norm):
    """Down-block: ``conv3(ReLU(conv3(ReLU(x))))``, average-pooled, plus a 1x1-conv shortcut.

    The first block has no leading ReLU (its input is the image) and pools before its
    shortcut convolution (SNGAN's "optimized" block); a block that keeps both resolution and
    width has the identity as shortcut.
    """
    h = x if first else layers.ReLU(name=f"{name}_relu1")(x)
    h = _conv(filters, 3, f"{name}_conv1", spectral_norm)(h)
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(filters, 3, f"{name}_conv2", spectral_norm)(h)
    shortcut = x
    if downsample:
        h = layers.AveragePooling2D(2, name=f"{name}_pool")(h)
        if first:
            shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    if downsample or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, f"{name}_shortcut_conv", spectral_norm)(shortcut)
        if downsample and not first:
            shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    return layers.Add(name=f"{name}_add")([h, shortcut])


def resnet_discriminator(
    image_shape, base_filters: int = 64, spectral_norm: bool = True, num_classes=None
) -> keras.Model:
    """SNGAN's ResNet discriminator (Miyato et al. 2018, appendix B, Table 4).

    ``x -> [down-block] x n -> [block] x 2 -> ReLU -> global sum pooling -> Dense(1)``: down-
    blocks halve the side to 8x8 (``n = log2(side / 8)``), filters doubling from
    ``base_filters`` (capped at ``MAX_FILTER_MULTIPLIER`` times), then two residual blocks at
    8x8. Every convolution and the dense layer are spectrally normalised (each kernel divided by
    its largest singular value, estimated by one power iteration per training call), unless
    ``spectral_norm=False``. No batch normalisation, as in :func:`dcgan_discriminator`. With
    ``num_classes=K`` it is a projection discriminator (Miyato & Koyama 2018, eq. 3) taking
    ``[images, labels]``: ``D(x, y) = w . phi(x) + b + V[y] . phi(x)``, ``phi`` the pooled
    features, ``V`` the (spectrally normalised) embedding "label_projection".

    Args:
        image_shape: ``(side, side, channels)``, side a power of two from RESNET_MIN_SIDE (32).
        base_filters: Filters of the first (full-resolution) block, positive int.
        spectral_norm: Whether to spectrally normalise the weights (default True).
        num_classes: ``None`` (unconditional) or the number of classes, positive int.

    Returns:
        ``keras.Model`` named "discriminator": images in [-1, 1] (and int32 labels (batch,)) ->
        float32 logits (batch, 1).
    """
    side, channels = _check_resnet_shape(image_shape)
    base_filters = positive_int(base_filters, "base_filters", MAX_WIDTH)
    if not isinstance(spectral_norm, bool):
        raise ValueError(f"spectral_norm must be a bool, got {spectral_norm!r}")
    num_classes = _num_classes(num_classes)
    images = keras.Input(shape=(side, side, channels), name="images")
    x = images
    n_down = int(math.log2(side // _RESNET_LAST_SIDE))
    for block in range(n_down):
        filters = _filters(base_filters, block)
        x = _discriminator_block(x, filters, f"down{block + 1}", True, block == 0, spectral_norm)
    for block in range(2):
        x = _discriminator_block(x, filters, f"block{block + 1}", False, False, spectral_norm)
    x = layers.ReLU(name="out_relu")(x)
    # Sum, not mean, over positions (SNGAN's code): the mean times the number of positions.
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    features = layers.Rescaling(_RESNET_LAST_SIDE**2, name="sum_pool")(x)
    # Glorot-uniform (Xavier) weights, as SNGAN's code initialises its layers.
    return _discriminator_head(images, features, spectral_norm, num_classes, "glorot_uniform")
