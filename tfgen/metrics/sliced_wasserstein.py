"""Sliced Wasserstein distance of Laplacian-pyramid patches (Karras et al. 2018, ProGAN,
https://arxiv.org/abs/1710.10196, appendix D), on raw pixels: no network needed.

As ProGAN's `metrics/sliced_wasserstein.py`: each image is decomposed into a Laplacian pyramid
(5x5 binomial filter, as cv2.pyrDown/pyrUp) from its own resolution down to `min_resolution`;
at each level `patches_per_image` random `patch_size` x `patch_size` neighbourhoods are drawn
per image; each set of descriptors is normalised per channel to zero mean and unit variance;
then the Wasserstein-1 distance between the real and generated descriptors is estimated by
projecting both on `directions` random unit vectors, sorting the projections and averaging
their absolute differences, over `repeats` independent sets of directions. Distances are
reported x 1e3, per level and averaged over levels, as ProGAN reports them.

The per-channel normalisation makes the distance blind to a global change of brightness or
contrast; it measures the distribution of local structure at each scale.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from tfgen import _checks as checks
from tfgen.metrics.features import check_images
from tfgen.metrics.samples import SampleMetric

__all__ = ["SlicedWasserstein", "laplacian_pyramid", "sliced_wasserstein"]

_BINOMIAL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float64) / 256.0
#: ProGAN reports the distances multiplied by this.
SCALE = 1e3


def _pyramid_down(images):
    """Blur and keep every second pixel (cv2.pyrDown); images (n, H, W, C)."""
    blurred = scipy.ndimage.convolve(images, _BINOMIAL[None, :, :, None], mode="mirror")
    return blurred[:, ::2, ::2, :]


def _pyramid_up(images):
    """Insert zeros between pixels and blur with 4x the filter (cv2.pyrUp)."""
    n, height, width, channels = images.shape
    upsampled = np.zeros((n, height * 2, width * 2, channels), images.dtype)
    upsampled[:, ::2, ::2, :] = images
    return scipy.ndimage.convolve(upsampled, _BINOMIAL[None, :, :, None] * 4.0, mode="mirror")


def laplacian_pyramid(images, levels):
    """`levels` images: band-pass details from fine to coarse, the last the low-pass residual."""
    pyramid = [np.asarray(images, np.float32)]
    for _ in range(1, levels):
        pyramid.append(_pyramid_down(pyramid[-1]))
        up = _pyramid_up(pyramid[-1])[:, : pyramid[-2].shape[1], : pyramid[-2].shape[2], :]
        pyramid[-2] = pyramid[-2] - up
    return pyramid


def _descriptors(images, patch_size, patches_per_image, rng):
    """Random neighbourhoods (n * patches_per_image, patch_size, patch_size, C)."""
    n, height, width, _ = images.shape
    half = patch_size // 2
    count = n * patches_per_image
    image = np.repeat(np.arange(n), patches_per_image)[:, None, None]
    offsets = np.arange(-half, half + 1)
    y = rng.integers(half, height - half, size=count)[:, None, None] + offsets[None, :, None]
    x = rng.integers(half, width - half, size=count)[:, None, None] + offsets[None, None, :]
    return images[image, y, x, :]


def _normalised(descriptors):
    descriptors = descriptors - descriptors.mean(axis=(0, 1, 2), keepdims=True)
    descriptors = descriptors / descriptors.std(axis=(0, 1, 2), keepdims=True)
    return descriptors.reshape(len(descriptors), -1)


def sliced_wasserstein(a, b, directions=128, repeats=4, rng=None):
    """Sliced Wasserstein-1 distance between point sets a and b (n, d) of equal size."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"a and b must be (n, d) of one shape, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(rng)
    results = []
    for _ in range(repeats):
        dirs = rng.standard_normal((a.shape[1], directions))
        dirs = (dirs / np.sqrt(np.sum(dirs**2, axis=0, keepdims=True))).astype(np.float32)
        projected_a, projected_b = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
        results.append(np.mean(np.abs(projected_a - projected_b)))
    return float(np.mean(results))


class SlicedWasserstein(SampleMetric):
    """SWD as a Keras metric on images; `result()` -> the mean over levels (x 1e3).

    `update_state(real, generated)` keeps the images (float32, in [-1, 1], of one size);
    descriptors are drawn in `result()` with `seed`, so it is reproducible. `distances()` gives
    the distance of each pyramid level by its resolution. Unequal numbers of real and generated
    images are evened out by a random subset of the larger side's descriptors.

    Args:
        patch_size: Side of the neighbourhoods. Defaults to `7` (ProGAN's).
        patches_per_image: Neighbourhoods drawn per image and level. Defaults to `128`.
        min_resolution: Coarsest pyramid level (images smaller than this use one level).
            Defaults to `16` (ProGAN's).
        directions: Random projections per repeat. Defaults to `128`.
        repeats: Independent sets of directions averaged. Defaults to `4`.
        seed: Seed of the patch positions and directions. Defaults to `0`.
        name: Metric name. Defaults to `"swd"`.
    """

    def __init__(
        self,
        patch_size=7,
        patches_per_image=128,
        min_resolution=16,
        directions=128,
        repeats=4,
        seed=0,
        name="swd",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        settings = dict(
            patch_size=patch_size,
            patches_per_image=patches_per_image,
            min_resolution=min_resolution,
            directions=directions,
            repeats=repeats,
        )
        for argument, value in settings.items():
            checks.positive_int(value, argument)
        if patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd, got {patch_size}")
        self.settings = settings
        self.seed = int(seed)

    def update_state(self, real, generated, sample_weight=None):
        """Keeps a batch of real and one of generated images, (n, H, W, C) in [-1, 1]."""
        if sample_weight is not None:
            raise ValueError("SlicedWasserstein does not take sample_weight; got one")
        for side, batch in (("real", real), ("generated", generated)):
            if batch is None:
                raise ValueError(f"{side} must be a batch of images, got None")
            images = check_images(batch, f"{side} images")
            side_length = min(images.shape[1:3])
            if side_length is not None and side_length < self.settings["patch_size"]:
                raise ValueError(
                    f"{side} images of size {tuple(images.shape[1:3])} are smaller than "
                    f"patch_size {self.settings['patch_size']}"
                )
            self._keep(side, images)

    def resolutions(self, side_length):
        """The pyramid's levels for images of this (shorter) side: halving to min_resolution."""
        levels, resolution = [], side_length
        while resolution >= max(self.settings["min_resolution"], self.settings["patch_size"]):
            levels.append(resolution)
            resolution //= 2
        return levels or [side_length]

    def distances(self):
        """{resolution: SWD x 1e3} for each pyramid level, and "mean" over the levels."""
        real, generated = self._kept("real"), self._kept("generated")
        rng = np.random.default_rng(self.seed)
        levels = self.resolutions(min(real.shape[1:3]))
        size, per_image = self.settings["patch_size"], self.settings["patches_per_image"]
        pyramids = [laplacian_pyramid(images, len(levels)) for images in (real, generated)]
        result = {}
        for level, resolution in enumerate(levels):
            sets = [
                _normalised(_descriptors(pyramid[level], size, per_image, rng))
                for pyramid in pyramids
            ]
            count = min(len(s) for s in sets)
            sets = [
                s[rng.choice(len(s), count, replace=False)] if len(s) > count else s for s in sets
            ]
            result[resolution] = SCALE * sliced_wasserstein(
                *sets, self.settings["directions"], self.settings["repeats"], rng
            )
        result["mean"] = float(np.mean(list(result.values())))
        return result

    def result(self):
        return self._numpy_result(lambda: {self.name: self.distances()["mean"]}, [self.name])[
            self.name
        ]

    def get_config(self):
        return {**super().get_config(), **self.settings, "seed": self.seed}
