"""Optimizers, strategies, jit settings and dtype policies from the names of settings."""

from __future__ import annotations

import contextlib
import os

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import optimizers
from tfgen.models import gan as gan_model

#: Names `make_strategy` accepts.
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
#: Values of the jit_compile setting (`jit_setting`).
JIT_CHOICES = ("auto", "true", "false")
#: The optimizers of tfgen, by name; `make_optimizer` takes these and Keras' optimizer names.
TFGEN_OPTIMIZERS = optimizers.NAMES
#: Keras optimizer classes that cannot be built from a learning rate alone.
_KERAS_OPTIMIZER_EXCLUDED = ("optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap")
#: Adam's betas for GANs: those of `GAN.compile`'s default optimizer (0, 0.9), chosen by
#: benchmarks/gan_ablation.py; defined once, in `tfgen.models.gan`.
GAN_ADAM_BETA_1 = gan_model.DEFAULT_BETA_1
GAN_ADAM_BETA_2 = gan_model.DEFAULT_BETA_2


def optimizer_names():
    """Every name `make_optimizer` takes: tfgen's, then Keras' built-ins in lower case."""
    keras_names = {
        name.lower()
        for name in dir(keras.optimizers)
        if isinstance(getattr(keras.optimizers, name), type)
        and issubclass(getattr(keras.optimizers, name), keras.optimizers.Optimizer)
    }
    keras_names -= set(_KERAS_OPTIMIZER_EXCLUDED) | set(TFGEN_OPTIMIZERS)
    return TFGEN_OPTIMIZERS + tuple(sorted(keras_names))


def make_optimizer(name, learning_rate, gan=False, argument="optimizer"):
    """An optimizer from its name and learning rate.

    "adam" is tfgen's Adam, with betas (GAN_ADAM_BETA_1, GAN_ADAM_BETA_2) = (0, 0.9) for GANs
    (as `GAN.compile`'s default) and Keras' (0.9, 0.999) otherwise; "nesterov" and
    "conjugate_gradient" are tfgen's; any other name is a Keras optimizer made with
    `keras.optimizers.get` and this learning rate.

    Raises:
        ValueError: `name` names no optimizer (the message lists them, under `argument`), or
            the learning rate is not a finite number > 0.
    """
    valid = optimizer_names()
    if not isinstance(name, str) or name.lower() not in valid:
        raise ValueError(
            f"{argument} must be one of the tfgen optimizers {', '.join(TFGEN_OPTIMIZERS)} or a "
            f"Keras optimizer name ({', '.join(valid[len(TFGEN_OPTIMIZERS) :])}), got {name!r}"
        )
    checks.number(
        learning_rate, f"learning rate of {argument}", 0, low_open=True, kind="a finite number"
    )
    name = name.lower()
    if name == "adam":
        if gan:
            return optimizers.Adam(learning_rate, beta_1=GAN_ADAM_BETA_1, beta_2=GAN_ADAM_BETA_2)
        return optimizers.Adam(learning_rate)
    if name == "nesterov":
        return optimizers.Nesterov(learning_rate)
    if name == "conjugate_gradient":
        return optimizers.ConjugateGradient(learning_rate)
    return keras.optimizers.get({"class_name": name, "config": {"learning_rate": learning_rate}})


def make_strategy(name):
    """A `tf.distribute` strategy from its name, one of `STRATEGIES`.

    "default": no distribution (one device). "mirrored": `MirroredStrategy` over all local GPUs
    (the CPU when there is none). "multi_worker": `MultiWorkerMirroredStrategy`, configured by
    the TF_CONFIG environment variable of each worker. "tpu": `TPUStrategy` on the TPU found
    by `TPUClusterResolver` (a Cloud TPU VM or the TPU named by the TPU_NAME variable).
    Create it before any other TensorFlow work: a multi-worker strategy must come first.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            print("TF_CONFIG is not set: multi_worker runs as a single worker.", flush=True)
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(f"strategy='tpu' found no TPU to connect to: {error}") from error
    return tf.distribute.TPUStrategy(resolver)


def jit_setting(value, deterministic=False):
    """The `jit_compile` argument of `compile` from "auto", "true" or "false" (or a bool).

    "auto" chooses XLA or not by timing the first steps (`tfgen.models.ImageModel.compile`),
    so a `deterministic` run pins it to False: its trajectory must not depend on timings.
    """
    text = str(value).lower()
    if text not in JIT_CHOICES:
        raise ValueError(f"jit_compile must be one of {', '.join(JIT_CHOICES)}, got {value!r}")
    if text == "auto" and deterministic:
        return False
    return {"auto": "auto", "true": True, "false": False}[text]


@contextlib.contextmanager
def dtype_policy(mixed_precision):
    """Sets Keras' global dtype policy (mixed_float16 or float32) inside the block."""
    previous = keras.mixed_precision.dtype_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
