"""Sample grids during `fit`: one fixed batch of latent codes or images, one picture an epoch."""

from __future__ import annotations

import numbers
import os
import warnings

import keras
import numpy as np
import tensorflow as tf
from matplotlib import image as mpimg

from tfgen import _checks as checks
from tfgen import images as images_lib
from tfgen import plot
from tfgen.callbacks._common import (
    _to_unit_numpy,
    is_chief,
    tensorboard_available,
)
from tfgen.models import sampling_network

#: Latent codes in a sample grid when `latent_batch` is None: an 8 x 8 grid.
DEFAULT_LATENT_BATCH = 64
#: Most images in one sample grid (a 32 x 32 grid): more would make pictures no one can read.
MAX_LATENT_BATCH = 1024


class _EpochGrid(keras.callbacks.Callback):
    """Writes `output_dir/samples/epoch_NNN.png` from `images()` every few epochs."""

    def __init__(self, output_dir, every_n_epochs, tensorboard_dir, columns=None):
        super().__init__()
        if not isinstance(output_dir, str | os.PathLike) or not os.fspath(output_dir):
            raise ValueError(f"output_dir must be a directory path, got {output_dir!r}")
        self.output_dir = os.fspath(output_dir)
        self.every_n_epochs = checks.positive_int(every_n_epochs, "every_n_epochs")
        self.tensorboard_dir = tensorboard_dir
        self.columns = columns
        self.written = []
        self._writer = None
        self._last_epoch = None
        self._last_written = None

    def images(self):
        raise NotImplementedError

    def title(self, epoch):
        return f"epoch {epoch}"

    def on_train_begin(self, logs=None):
        self._last_epoch = self._last_written = None
        if self.tensorboard_dir is not None and is_chief() and tensorboard_available():
            self._writer = tf.summary.create_file_writer(
                os.path.join(os.fspath(self.tensorboard_dir), "samples")
            )

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch + 1
        if (epoch + 1) % self.every_n_epochs == 0:
            self.write(epoch + 1)

    def on_train_end(self, logs=None):
        if self._last_epoch is not None and self._last_written != self._last_epoch:
            self.write(self._last_epoch)
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write(self, epoch):
        """Writes the grid of epoch `epoch` (counted from 1); returns its path or None."""
        self._last_written = epoch
        if not is_chief():
            return None
        images = self.images()
        if not np.all(np.isfinite(images)):
            warnings.warn(
                f"Epoch {epoch}: the model's images are not finite (NaN or inf); no sample "
                "grid written.",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        path = os.path.join(self.output_dir, "samples", f"epoch_{epoch:03d}.png")
        plot.image_grid(images, path, columns=self.columns, title=self.title(epoch))
        self.written.append(path)
        if self._writer is not None:
            grid = mpimg.imread(path)[..., :3]
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch)
            self._writer.flush()
        return path


class SampleGrid(_EpochGrid):
    """Writes a grid of the images of a fixed batch of latent codes every few epochs.

    Files: `output_dir/samples/epoch_NNN.png` (epochs counted from 1), drawn with
    `tfgen.plot.image_grid`; the grid of the last epoch is written at the end of training when
    `every_n_epochs` skipped it. The codes are drawn once,
    `tf.random.stateless_normal([n, *code_shape], seed=[seed, 0])`, the codes of
    `GAN.generate(n, seed=seed)` (and of `VAE.sample(n, seed=seed)`), and reused at every epoch.
    Images come from the model's `sampling_generator` (a GAN's moving-average generator when
    it has one), else its `generator` or `decoder`, in inference mode.

    For a conditional model (one with `num_classes` K, whose generator takes `[z, labels]`)
    the grid has one row per class, 0 to K - 1 from the top, each row the same
    `ceil(n / K)` codes (the first of the n drawn), so a column shows one code in every class.

    Args:
        output_dir: Run directory; grids go to its `samples` sub-directory.
        every_n_epochs: Write a grid when the epoch number is a multiple of this.
        latent_batch: None (`DEFAULT_LATENT_BATCH` codes), a number of codes, or an array of
            codes (n, *code_shape) to use as they are.
        seed: Seed of the codes.
        tensorboard_dir: Optional TensorBoard log directory; the grids are also logged there
            as images (run "samples", tag "samples") when the `tensorboard` package is
            installed.

    Attributes:
        written: Paths of the grids written so far.
    """

    def __init__(
        self, output_dir, every_n_epochs=1, latent_batch=None, seed=0, tensorboard_dir=None
    ):
        super().__init__(output_dir, every_n_epochs, tensorboard_dir)
        allowed = "None, a positive int or an array of codes (n, *code_shape)"
        if latent_batch is not None and not isinstance(latent_batch, numbers.Integral):
            latent_batch = np.asarray(latent_batch, dtype=np.float32)
            if latent_batch.ndim < 2 or latent_batch.shape[0] < 1:
                raise ValueError(
                    f"latent_batch must be {allowed}, got an array of shape {latent_batch.shape}"
                )
        elif latent_batch is not None and (not checks.is_int(latent_batch) or latent_batch < 1):
            raise ValueError(f"latent_batch must be {allowed}, got {latent_batch!r}")
        count = latent_batch if isinstance(latent_batch, numbers.Integral) else len(latent_batch)
        if latent_batch is not None and count > MAX_LATENT_BATCH:
            raise ValueError(f"latent_batch must be at most {MAX_LATENT_BATCH} codes, got {count}")
        self.latent_batch = DEFAULT_LATENT_BATCH if latent_batch is None else latent_batch
        self.seed = checks.seed(seed, optional=False)
        self._codes = None
        self._labels = None

    def _generator(self):
        network = sampling_network(self.model)
        if network is not self.model:
            return network
        raise ValueError(
            "SampleGrid needs a model with a sampling_generator, generator or decoder "
            f"attribute, got {type(self.model).__name__}"
        )

    def on_train_begin(self, logs=None):
        code_shape = tuple(int(d) for d in self._generator().inputs[0].shape[1:])
        if isinstance(self.latent_batch, np.ndarray):
            if self.latent_batch.shape[1:] != code_shape:
                raise ValueError(
                    f"latent_batch holds codes of shape {self.latent_batch.shape[1:]} but the "
                    f"generator takes {code_shape}"
                )
            self._codes = tf.constant(self.latent_batch, tf.float32)
        else:
            shape = [int(self.latent_batch), *code_shape]
            self._codes = tf.random.stateless_normal(shape, seed=[self.seed, 0])
        num_classes = getattr(self.model, "num_classes", None)
        if num_classes:
            # One row per class, every row the same codes.
            per_row = -(-int(self._codes.shape[0]) // num_classes)
            codes = self._codes[:per_row]
            self._codes = tf.tile(codes, [num_classes] + [1] * (codes.shape.rank - 1))
            self._labels = tf.repeat(tf.range(num_classes, dtype=tf.int32), per_row)
            self.columns = per_row
        super().on_train_begin(logs)

    def images(self):
        """The images of the fixed codes now, float32 in [0, 1], (n, H, W, C)."""
        if self._codes is None:
            raise ValueError("SampleGrid.images() is available once training has begun")
        inputs = self._codes if self._labels is None else [self._codes, self._labels]
        return _to_unit_numpy(self._generator()(inputs, training=False))


class ReconstructionGrid(_EpochGrid):
    """Writes, every few epochs, a fixed batch of images with their corruption and restoration.

    The grid has three rows: the clean images, the model's input (the images corrupted by the
    model's `corruption` with a fixed seed; the clean images again without one) and the
    model's reconstruction of that input, `model(corrupted)`. Files and TensorBoard logging
    as for `SampleGrid`: `output_dir/samples/epoch_NNN.png`.

    Args:
        output_dir: Run directory; grids go to its `samples` sub-directory.
        images: The fixed batch, (n, H, W, C) in [-1, 1] (the range the model trains on).
        every_n_epochs: Write a grid when the epoch number is a multiple of this.
        seed: Seed of the corruption.
        tensorboard_dir: Optional TensorBoard log directory, as for `SampleGrid`.
    """

    def __init__(self, output_dir, images, every_n_epochs=1, seed=0, tensorboard_dir=None):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[0] < 1:
            raise ValueError(f"images must be an array (n, H, W, C), got shape {images.shape}")
        images_lib.check_range(images, "images")
        super().__init__(output_dir, every_n_epochs, tensorboard_dir, columns=images.shape[0])
        self.clean = images
        self.seed = checks.seed(seed, optional=False)
        self._corrupted = None

    def title(self, epoch):
        return f"epoch {epoch}: clean / input / reconstruction"

    def on_train_begin(self, logs=None):
        corruption = getattr(self.model, "corruption", None)
        clean = tf.constant(self.clean)
        self._corrupted = clean if corruption is None else corruption(clean, self.seed)
        super().on_train_begin(logs)

    def images(self):
        """Clean, corrupted and reconstructed images, (3 n, H, W, C) in [0, 1]."""
        if self._corrupted is None:
            raise ValueError("ReconstructionGrid.images() is available once training has begun")
        restored = self.model(self._corrupted, training=False)
        rows = [self.clean, self._corrupted, restored]
        return np.concatenate([_to_unit_numpy(row) for row in rows])
