"""PyTorch's DCGAN training step on the very networks tfgen builds, for the throughput peer.

`to_torch(model)` rebuilds a Keras DCGAN generator or discriminator from
`tfgen.architectures` layer by layer as a `torch.nn.Module` (NCHW inside, NHWC at the ends, as
the Keras model takes and gives), with the same weights; `check_same_outputs` confirms both
compute the same function on a batch. `TorchDCGAN.train_step` is the step of PyTorch's DCGAN
example in the form tfgen's `GAN` runs it: the generator runs forward once, the discriminator
sees real and generated images in one batch, non-saturating losses, Adam for both networks.

torch is an optional dependency of the benchmarks only (`pip install torch`); tfgen never
imports it.
"""

import numpy as np
import torch
from torch import nn


class _NHWCToNCHW(nn.Module):
    def forward(self, x):
        return x.permute(0, 3, 1, 2)


class _NCHWToNHWC(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1)


class _Reshape(nn.Module):
    """Keras' Reshape to (H, W, C), then to NCHW."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape).permute(0, 3, 1, 2)


class _Flatten(nn.Module):
    """Keras' Flatten of an NHWC tensor (our NCHW one is permuted back first)."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class _Pad(nn.Module):
    """TensorFlow's 'same' padding when it is asymmetric: `before` and `after` rows and columns."""

    def __init__(self, before, after):
        super().__init__()
        self.pads = (before, after, before, after)

    def forward(self, x):
        return nn.functional.pad(x, self.pads)


class _Crop(nn.Module):
    """The transpose of `_Pad`: drops `before` and `after` rows and columns."""

    def __init__(self, before, after):
        super().__init__()
        self.before, self.after = before, after

    def forward(self, x):
        height, width = x.shape[2:]
        return x[:, :, self.before : height - self.after, self.before : width - self.after]


def _same_padding(kernel_size, strides):
    """TensorFlow's 'same' padding of the DCGAN builders' convolutions: (before, after) rows."""
    (k, _), (s, _) = kernel_size, strides
    total = max(k - s, 0) if s > 1 else k - 1
    return total // 2, total - total // 2


def _conv_modules(name, weights, config, exact):
    """A Keras (transposed) convolution with 'same' padding as torch modules.

    Symmetric padding maps to torch's `padding` (and `output_padding` for the transpose). An
    odd total (kernel 3 or 5 at stride 2) has its extra row and column after in TensorFlow:
    `exact` reproduces that with an explicit pad (or crop) around an unpadded convolution;
    otherwise the convolution is written as a torch user would, `padding=after` (and
    `output_padding=1`), the same shapes and arithmetic with the window shifted by one pixel.
    """
    if config["padding"] != "same":
        raise ValueError(f"padding {config['padding']!r} is not ported")
    before, after = _same_padding(config["kernel_size"], config["strides"])
    transpose = name == "Conv2DTranspose"
    kernel = weights[0].permute(3, 2, 0, 1).contiguous()  # (kh, kw, a, b) -> (b, a, kh, kw)
    kind = nn.ConvTranspose2d if transpose else nn.Conv2d
    # Conv2d weights are (out, in, kh, kw); ConvTranspose2d weights (in, out, kh, kw).
    channels = kernel.shape[:2] if transpose else kernel.shape[1::-1]
    options = dict(stride=config["strides"], bias=config["use_bias"])
    if before == after:
        options["padding"] = before
    elif not exact:
        options["padding"] = after
        if transpose:
            options["output_padding"] = after - before
    module = kind(*channels, config["kernel_size"], **options)
    module.weight.data = kernel
    if config["use_bias"]:
        module.bias.data = weights[1]
    if exact and before != after:
        return [module, _Crop(before, after)] if transpose else [_Pad(before, after), module]
    return [module]


def _convert(layer, nchw, exact):
    """The torch modules of one Keras layer; `nchw` says whether activations are images."""
    name = type(layer).__name__
    config = layer.get_config()
    weights = [torch.from_numpy(np.asarray(w, np.float32)) for w in layer.get_weights()]
    if name == "InputLayer":
        return [_NHWCToNCHW()] if len(layer.batch_shape) == 4 else []
    if name == "Dense":
        module = nn.Linear(weights[0].shape[0], weights[0].shape[1], bias=config["use_bias"])
        module.weight.data = weights[0].T.contiguous()
        if config["use_bias"]:
            module.bias.data = weights[1]
        return [module]
    if name == "Reshape":
        return [_Reshape(config["target_shape"])]
    if name == "Flatten":
        return [_Flatten()]
    if name in ("Conv2D", "Conv2DTranspose"):
        return _conv_modules(name, weights, config, exact)
    if name == "BatchNormalization":
        module = nn.BatchNorm2d(
            layer.moving_mean.shape[0], eps=config["epsilon"], momentum=1 - config["momentum"]
        )
        gamma, beta, mean, variance = weights
        module.weight.data, module.bias.data = gamma, beta
        module.running_mean.data, module.running_var.data = mean, variance
        return [module]
    if name == "ReLU":
        return [nn.ReLU()]
    if name == "LeakyReLU":
        return [nn.LeakyReLU(config["negative_slope"])]
    if name == "Activation":
        activation = config["activation"]
        if activation == "tanh":
            return [nn.Tanh(), _NCHWToNHWC()] if nchw else [nn.Tanh()]
        if activation == "linear":
            return []
    raise ValueError(f"layer {layer.name} ({name}) is not ported to torch")


def to_torch(model, exact=True):
    """A `torch.nn.Sequential` with the layers and weights of the Keras DCGAN network `model`.

    With `exact` it computes what `model` computes; otherwise odd 'same' padding is torch's
    symmetric kind (see `_conv_modules`), same shapes and cost, as a torch user writes it.
    """
    modules, nchw = [], False
    for layer in model.layers:
        converted = _convert(layer, nchw, exact)
        for module in converted:
            if isinstance(module, _NHWCToNCHW | _Reshape):
                nchw = True
            elif isinstance(module, _Flatten | _NCHWToNHWC):
                nchw = False
        modules.extend(converted)
    return nn.Sequential(*modules)


def check_same_outputs(keras_model, torch_model, inputs, atol=1e-4):
    """Raises AssertionError unless both give the same outputs (inference mode) on `inputs`."""
    expected = np.asarray(keras_model(inputs, training=False))
    torch_model.eval()
    with torch.no_grad():
        got = torch_model(torch.from_numpy(np.array(inputs, np.float32))).numpy()
    torch_model.train()
    np.testing.assert_allclose(got, expected, atol=atol)


class TorchDCGAN:
    """tfgen's GAN step (non-saturating losses, one generator pass) written in PyTorch."""

    def __init__(self, generator, discriminator, latent_dim, learning_rate=2e-4, beta_1=0.5):
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = latent_dim
        self.g_optimizer = torch.optim.Adam(
            generator.parameters(), learning_rate, betas=(beta_1, 0.999), eps=1e-7
        )
        self.d_optimizer = torch.optim.Adam(
            discriminator.parameters(), learning_rate, betas=(beta_1, 0.999), eps=1e-7
        )

    def train_step(self, real):
        batch = real.shape[0]
        fake = self.generator(torch.randn(batch, self.latent_dim))
        self.d_optimizer.zero_grad(set_to_none=True)
        logits = self.discriminator(torch.cat([real, fake.detach()]))
        d_loss = nn.functional.softplus(-logits[:batch]).mean()
        d_loss = d_loss + nn.functional.softplus(logits[batch:]).mean()
        d_loss.backward()
        self.d_optimizer.step()
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss = nn.functional.softplus(-self.discriminator(fake)).mean()
        g_loss.backward()
        self.g_optimizer.step()
        return d_loss.detach(), g_loss.detach()
