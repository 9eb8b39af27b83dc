"""Images of `tfgen.stylize`: the size rule with its largest result, the network's channels.

Loading, cropping, resizing, luminance and blur are `tfgen.images`'.
"""

from __future__ import annotations

import tensorflow as tf

from tfgen import images

#: Largest result (height x width): the optimisation holds the image, its gradient, optimizer
#: slots and every feature map of 128 filters per layer, a few hundred floats per pixel.
MAX_PIXELS = 2048 * 2048


def _image_size(image_size, name="image_size"):
    """None, or `tfgen.images.image_size` with at most `MAX_PIXELS` pixels."""
    if image_size is None:
        return None
    return images.image_size(image_size, name, MAX_PIXELS)


def _prepare(image, name, size, channels):
    """(1, H, W, channels) in [-1, 1]: `load_image(image, size)` with the network's channels."""
    try:
        array = images.load_image(image, size)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if array.shape[-1] != channels:
        if channels == 3:
            array = array.repeat(3, axis=-1)
        else:  # one-channel network: luminance
            array = images.luminance(array)
    return tf.constant(images.to_model_range(array[None]), tf.float32)
