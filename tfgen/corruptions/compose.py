"""Chains of corruptions (`Compose`), plain functions (`CorruptionFunction`) and `get`."""

from __future__ import annotations

import inspect

import keras
import tensorflow as tf

from tfgen.corruptions._base import (
    Corruption,
)


@keras.saving.register_keras_serializable(package="tfgen")
class Compose(Corruption):
    """Several corruptions applied in order: ``y = c_n(... c_2(c_1(x)))``.

    The i-th corruption draws from its own stateless seed, ``stateless_fold_in(seed, i)``, so
    the corruptions are independent and the whole chain is as reproducible, and as independent
    of the number of replicas, as each of its parts.

    Args:
        corruptions: A non-empty list of corruptions (anything `get` accepts, but None).
    """

    def __init__(self, corruptions):
        if isinstance(corruptions, Corruption | dict) or not isinstance(corruptions, list | tuple):
            raise ValueError(f"corruptions must be a non-empty list, got {corruptions!r}")
        if not corruptions:
            raise ValueError("corruptions must be a non-empty list, got an empty one")
        if any(c is None for c in corruptions):
            raise ValueError(f"corruptions must not hold None, got {corruptions!r}")
        self.corruptions = [get(c) for c in corruptions]

    @property
    def xla_compilable(self):
        return all(c.xla_compilable for c in self.corruptions)

    def call(self, images, seed):
        for i, corruption in enumerate(self.corruptions):
            step_seed = tf.random.experimental.stateless_fold_in(seed, i)
            images = tf.cast(corruption.call(images, step_seed), images.dtype)
        return images

    def get_config(self):
        return {"corruptions": [keras.saving.serialize_keras_object(c) for c in self.corruptions]}

    def __repr__(self):
        return f"Compose({self.corruptions!r})"


@keras.saving.register_keras_serializable(package="tfgen")
class CorruptionFunction(Corruption):
    """Wraps a function ``fn(images, seed)`` (or ``fn(images)``) as a corruption.

    `seed` is a [2] int64 stateless seed for `tf.random.stateless_*` ops; draw per example with
    `tfgen.distribute.per_example_normal`/`per_example_uniform` to keep results independent of
    the number of replicas. To save the model holding it, register the function with
    `keras.saving.register_keras_serializable`.
    """

    def __init__(self, fn):
        if isinstance(fn, dict):
            fn = keras.saving.deserialize_keras_object(fn)
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {fn!r}")
        self.fn = fn
        self._takes_seed = _accepts_two_arguments(fn)

    def call(self, images, seed):
        out = self.fn(images, seed) if self._takes_seed else self.fn(images)
        out = tf.convert_to_tensor(out)
        if out.shape.rank is not None and out.shape.rank != 4:
            raise ValueError(
                f"the corruption function must return images of rank 4 like its input, got "
                f"shape {out.shape}"
            )
        return tf.cast(out, images.dtype)

    def get_config(self):
        return {"fn": keras.saving.serialize_keras_object(self.fn)}


def _accepts_two_arguments(fn) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def get(identifier):
    """A `Corruption` from `None`, a `Corruption`, its serialised config or a callable."""
    if identifier is None or isinstance(identifier, Corruption):
        return identifier
    if isinstance(identifier, dict):
        corruption = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(corruption, Corruption):
            raise ValueError(f"corruption config does not describe a Corruption: {identifier!r}")
        return corruption
    if callable(identifier):
        return CorruptionFunction(identifier)
    raise ValueError(
        "corruption must be None, a tfgen.corruptions.Corruption (GaussianNoise, RandomMask, "
        "Downsample, GaussianBlur, JPEG, Compose) "
        f"or a callable fn(images, seed), got {identifier!r}"
    )
