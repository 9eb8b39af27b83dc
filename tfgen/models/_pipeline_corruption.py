"""Corruptions XLA cannot compile, applied in the input pipeline of an `Autoencoder`."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import tensorflow as tf

from tfgen.models import _images

# Independent random streams per training step: the corruption and the reparameterisation (or
# the blind-spot mask, which never meets a variational model).
_CORRUPTION_STREAM, _SAMPLING_STREAM, _STREAMS_PER_STEP = 0, 1, 2


def _as_keywords(method, x, args, kwargs):
    """The arguments of a call ``method(self, x, *args, **kwargs)`` as keywords."""
    bound = inspect.signature(method).bind(None, x, *args, **kwargs)
    keywords = dict(bound.arguments)
    keywords.pop("self")
    keywords.update(keywords.pop("kwargs", {}))
    return keywords


class PipelineCorruption:
    """`fit` and `evaluate` of `tfgen.models.Autoencoder` when its corruption runs in the
    input pipeline; mixed into the model class."""

    # -----------------------------------------------------------------------------------------
    # Corruptions XLA cannot compile: applied in the input pipeline.

    @property
    def _corrupts_in_pipeline(self):
        """Whether batches reach the step corrupted already (a corruption XLA cannot compile)."""
        return self.corruption is not None and not self.corruption.xla_compilable

    def fit(self, x=None, *args, **kwargs):
        if not self._corrupts_in_pipeline:
            return super().fit(x, *args, **kwargs)
        kwargs = _as_keywords(keras.Model.fit, x, args, kwargs)
        if kwargs.get("validation_split"):
            raise ValueError(
                f"validation_split cannot be used with {self.corruption!r}, which is applied in "
                "the input pipeline (XLA cannot compile it): pass validation_data instead"
            )
        shuffle = kwargs.pop("shuffle", True)
        batch_size = kwargs.pop("batch_size", None)
        kwargs["x"] = self._pipeline_corrupted(kwargs.get("x"), batch_size, shuffle, training=True)
        kwargs.pop("y", None)
        validation = kwargs.get("validation_data")
        if validation is not None:
            if isinstance(validation, tuple | list):  # (images, labels): labels are ignored
                validation = validation[0]
            kwargs["validation_data"] = self._pipeline_corrupted(
                validation, kwargs.get("validation_batch_size") or batch_size, False, False
            )
        return super().fit(**kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        if not self._corrupts_in_pipeline or kwargs.get("_use_cached_eval_dataset"):
            return super().evaluate(x, *args, **kwargs)
        kwargs = _as_keywords(keras.Model.evaluate, x, args, kwargs)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("y", None)
        kwargs["x"] = self._pipeline_corrupted(kwargs.get("x"), batch_size, False, training=False)
        return super().evaluate(**kwargs)

    def _pipeline_corrupted(self, data, batch_size, shuffle, training):
        """`data` as a dataset of `(clean, corrupted)` batches, corrupted by the pipeline.

        Training batches get seeds from a per-iteration random stream (a different corruption
        every epoch, reproducible for a given seed and step count); evaluation batches the seeds
        of `_test_on`, so `evaluate` corrupts exactly as it does inside the step.
        """
        if not isinstance(data, tf.data.Dataset):
            _images.check_training_data(data, self.image_shape, self._image_role)
            images = np.asarray(data, np.float32)
            data = tf.data.Dataset.from_tensor_slices(images)
            if shuffle:
                data = data.shuffle(len(images), seed=self.seed, reshuffle_each_iteration=True)
            data = data.batch(batch_size or 32)
        else:
            _images.check_training_data(data, self.image_shape, self._image_role)
        clean = data.map(lambda *element: tf.cast(element[0], tf.float32))
        if training:
            start = int(keras.ops.convert_to_numpy(self.noise_step))
            stream_seed = (self.seed * 1_000_003 + start) % (2**31 - 1)
            counters = tf.data.Dataset.random(seed=stream_seed, rerandomize_each_iteration=True)
            offset = 0
        else:
            counters, offset = tf.data.Dataset.counter(), 1

        def corrupt(images, counter):
            seed = self._seed(counter, offset, _CORRUPTION_STREAM)
            return images, tf.cast(self.corruption.call(images, seed), tf.float32)

        pairs = tf.data.Dataset.zip(clean, counters).map(corrupt)
        return pairs.prefetch(tf.data.AUTOTUNE)

    def _inputs(self, images, data):
        if self._corrupts_in_pipeline:
            return images, tf.cast(data[1], tf.float32)
        return images
