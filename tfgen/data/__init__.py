"""Image datasets as fast `tf.data` pipelines: tensorflow-datasets, image folders, bundled data.

`load(name, ...)` returns batches of float32 images in [-1, 1] (or another `value_range`) of
shape (batch, height, width, channels), ready for `model.fit`:

    import tfgen.data
    ds = tfgen.data.load("digits", image_size=32, batch_size=64, seed=0)      # offline
    ds = tfgen.data.load("cifar10", data_dir="/data/tfds")                      # tfds
    ds = tfgen.data.load("folder:/data/faces", image_size=64, channels=3)       # image files

Importing this package also registers the offline tfds builders `tfgen_digits` and
`tfgen_photos`, so `tfds.load("tfgen_digits")` works without a network.
"""

from tfgen.data.builders import PHOTO_NAMES, PhotosConfig, TfgenDigits, TfgenPhotos
from tfgen.data.channels import permute_channels, with_permuted_channels
from tfgen.data.pipeline import FITS, class_names, load, preprocess
from tfgen.data.sources import BUNDLED, DataNotPreparedError, network_available, read_image

__all__ = [
    "BUNDLED",
    "FITS",
    "PHOTO_NAMES",
    "DataNotPreparedError",
    "PhotosConfig",
    "TfgenDigits",
    "TfgenPhotos",
    "bundled_names",
    "class_names",
    "load",
    "network_available",
    "permute_channels",
    "preprocess",
    "read_image",
    "with_permuted_channels",
]


def bundled_names() -> tuple[str, ...]:
    """Names of the datasets that need no download: ("digits", "photos")."""
    return BUNDLED
