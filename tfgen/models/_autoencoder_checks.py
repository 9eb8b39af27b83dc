"""Checks of the autoencoders' networks and corruptions, before any training."""

from __future__ import annotations

from tfgen import _checks as checks
from tfgen import architectures, corruptions


def _check_corruption(corruption, network, image_shape, objective):
    """Refuses, before any training, a corruption the images or the network cannot use."""
    fills = [
        layer.fill_value
        for layer in getattr(network, "layers", [])
        if isinstance(layer, architectures.KnownPixels)
    ]
    if fills and not (
        isinstance(corruption, corruptions.RandomMask) and corruption.fill_value == fills[0]
    ):
        raise ValueError(
            f"corruption must be a RandomMask with fill_value={fills[0]} for a network built "
            f"with unet(..., inpaint_fill={fills[0]}), which finds the holes by that value; "
            f"got {corruption!r}"
        )
    if isinstance(corruption, corruptions.Downsample) and corruption.factor > min(image_shape[:2]):
        raise ValueError(
            f"corruption {corruption!r} needs images of at least {corruption.factor} pixels a "
            f"side, but the model takes {image_shape}"
        )
    if (
        isinstance(corruption, corruptions.JPEG)
        and image_shape[-1] not in corruptions.JPEG_CHANNELS
    ):
        raise ValueError(
            f"corruption {corruption!r} needs images with channels in "
            f"{corruptions.JPEG_CHANNELS}, but the model takes {image_shape}"
        )
    if objective == "blind_spot" and isinstance(
        corruption, corruptions.RandomMask | corruptions.Downsample | corruptions.GaussianBlur
    ):
        raise ValueError(
            f"objective='blind_spot' learns to remove noise independent from pixel to pixel; "
            f"corruption {corruption!r} is not such noise (use GaussianNoise or None)"
        )


def _shape_of(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _check_networks(encoder, decoder, variational):
    """Validates the pair; returns (image_shape, code_shape)."""
    if encoder is None:
        return _check_image_to_image(decoder, variational)
    for name, network in (("encoder", encoder), ("decoder", decoder)):
        checks.built_model(network, name)
        if len(network.inputs) != 1:
            raise ValueError(f"{name} must take one input, got {len(network.inputs)}")
    image_shape = _shape_of(encoder.inputs[0].shape[1:])
    if len(image_shape) != 3 or None in image_shape:
        raise ValueError(
            f"encoder must take images of a fixed shape (batch, H, W, C), got "
            f"{_shape_of(encoder.inputs[0].shape)}"
        )
    outputs = list(encoder.outputs)
    if variational and len(outputs) != 2:
        raise ValueError(
            f"a variational encoder must return two outputs [z_mean, z_log_var], this one "
            f"returns {len(outputs)}: build it with conv_encoder(..., variational=True)"
        )
    if not variational and len(outputs) != 1:
        raise ValueError(
            f"encoder must return one code, got {len(outputs)} outputs (pass variational=True "
            "for an encoder returning [z_mean, z_log_var])"
        )
    code_shapes = [_shape_of(out.shape[1:]) for out in outputs]
    if len(set(code_shapes)) != 1:
        raise ValueError(f"z_mean and z_log_var must have the same shape, got {code_shapes}")
    code_shape = code_shapes[0]
    if None in code_shape:
        raise ValueError(f"encoder codes must have a fixed shape, got (batch, *{code_shape})")
    decoder_input = _shape_of(decoder.inputs[0].shape[1:])
    if decoder_input != code_shape:
        raise ValueError(
            f"the decoder takes codes of shape {decoder_input} but the encoder makes "
            f"{code_shape}: build both with the same latent_dim"
        )
    if len(decoder.outputs) != 1:
        raise ValueError(f"decoder must return one image tensor, got {len(decoder.outputs)}")
    decoded = _shape_of(decoder.outputs[0].shape[1:])
    if decoded != image_shape:
        raise ValueError(
            f"the decoder makes images of shape {decoded} but the encoder takes {image_shape}: "
            "build both for the same image_shape"
        )
    return image_shape, code_shape


def _check_image_to_image(decoder, variational):
    """Validates a decoder used without encoder; returns (image_shape, image_shape)."""
    if variational:
        raise ValueError("a variational model needs an encoder, got encoder=None")
    checks.built_model(decoder, "decoder")
    shapes = [_shape_of(t.shape[1:]) for t in (*decoder.inputs, *decoder.outputs)]
    if len(shapes) != 2 or len(shapes[0]) != 3 or None in shapes[0] or shapes[0] != shapes[1]:
        raise ValueError(
            "with encoder=None the decoder must map images (batch, H, W, C) of a fixed shape to "
            f"images of the same shape (e.g. architectures.unet), got {decoder.input_shape} -> "
            f"{decoder.output_shape}"
        )
    return shapes[0], shapes[0]
