"""Image corruptions applied on the fly while training reconstruction models.

Noise (`GaussianNoise`), missing patches (`RandomMask`), low resolution (`Downsample`), blur
(`GaussianBlur`) and compression artefacts (`JPEG`), chained with `Compose`.

A corruption maps a batch of clean images in [-1, 1], shape (batch, H, W, C), and a stateless
seed to corrupted images of the same shape; a reconstruction model learns to undo it with the
clean images as targets, so one dataset serves denoising, inpainting and plain compression.

Every random draw is made per example of the GLOBAL batch from the stateless seed (see
`tfgen.distribute.per_example_normal`), so an example gets the same corruption whether the batch
runs on one device or is split over several replicas, and the same seed always gives the same
corruption.

Corruptions are Keras-serialisable objects (registered under the package "tfgen" with a
`get_config`), so models holding them save to `.keras` and load with `safe_mode=True`.
"""

from __future__ import annotations

from tfgen.corruptions._base import (
    DOWNSAMPLE_METHODS,
    JPEG_CHANNELS,
    MAX_BLUR_SIGMA,
    Corruption,
    as_seed,
)
from tfgen.corruptions.compose import (
    Compose,
    CorruptionFunction,
    get,
)
from tfgen.corruptions.filters import (
    Downsample,
    GaussianBlur,
)
from tfgen.corruptions.jpeg import (
    JPEG,
)
from tfgen.corruptions.pixels import (
    GaussianNoise,
    RandomMask,
)

__all__ = [
    "DOWNSAMPLE_METHODS",
    "JPEG_CHANNELS",
    "MAX_BLUR_SIGMA",
    "Compose",
    "Corruption",
    "CorruptionFunction",
    "Downsample",
    "GaussianBlur",
    "GaussianNoise",
    "JPEG",
    "RandomMask",
    "as_seed",
    "get",
]
