"""What the GAN and the reconstruction models share: input checks, optimizers, config, outputs.

`ImageModel` is a `keras.Model` whose `fit` and `evaluate` take batches of images in [-1, 1]
(or `(images, labels)` pairs). The input check costs nothing before training: shapes come from
a dataset's `element_spec` (no batch is drawn, so `tfgen.data.load`'s cache and shuffle buffer
are filled once, by training), values of in-memory arrays are checked at once, and the values
of every batch of a dataset are checked inside the compiled step (one min, max and finiteness
reduction per batch) before any weight moves; a bad batch stops training with a `ValueError`
naming it; so does a replica of a strategy left without examples (a last batch smaller than
the replicas). Under XLA (`jit_compile=True`, without a strategy) the in-step check is
compiled away.
"""

import contextlib
import re

import keras
import numpy as np
import tensorflow as tf

from tfgen import distribute
from tfgen import images as images_lib
from tfgen._keras_compat import BuiltModel
from tfgen.models import _images, _jit
from tfgen.optimizers import rules

# Marks the in-step assertion, so that `fit`/`evaluate` can turn it into a ValueError.
_BAD_BATCH = "tfgen: bad batch"
_BAD_BATCH_PATTERN = re.compile(
    re.escape(f"[{_BAD_BATCH}]") + r" \[(-?\d+)\] \[(\d+)\] \[([^\]]+)\] \[([^\]]+)\]"
)
# Marks the in-step assertion that every replica holds examples.
_EMPTY_REPLICA = "tfgen: empty replica"
_EMPTY_REPLICA_PATTERN = re.compile(re.escape(f"[{_EMPTY_REPLICA}]") + r" \[(-?\d+)\] \[(\d+)\]")


def mean(values):
    """Mean of a per-example vector, 0 for an empty one (a replica without examples)."""
    return tf.math.divide_no_nan(tf.reduce_sum(values), tf.cast(tf.size(values), values.dtype))


def to_unit_range(images):
    """Model outputs in [-1, 1] as a float32 numpy array in [0, 1], the range users see."""
    return images_lib.to_unit_range(np.asarray(images, np.float32))


# Whether an optimizer ascends: asked of tfgen.optimizers.rules, the one place that knows.
is_maximizing = rules.is_maximizing


def _empty_replica_error(message):
    """The ValueError for a replica without examples, or None for any other error."""
    found = _EMPTY_REPLICA_PATTERN.search(message or "")
    if found is None:
        return None
    batch, replicas = found.groups()
    where = "an evaluation batch" if int(batch) < 0 else f"training batch {batch}"
    return ValueError(
        f"{where} holds fewer examples than the {replicas} replicas of the model's strategy, "
        "so one replica got none, which TensorFlow's kernels cannot train or evaluate on (a "
        "dataset's last, partial batch): batch the dataset with drop_remainder=True, or use a "
        f"number of examples whose last batch holds at least {replicas}"
    )


def _bad_batch_error(message):
    """The ValueError for an in-step assertion message, or None for any other error."""
    empty = _empty_replica_error(message)
    if empty is not None:
        return empty
    found = _BAD_BATCH_PATTERN.search(message or "")
    if found is None:
        return None
    batch, nonfinite, low, high = found.groups()
    where = "an evaluation batch" if int(batch) < 0 else f"training batch {batch}"
    where += " (counted from 0 over all the model's training steps)" if int(batch) >= 0 else ""
    if int(nonfinite):
        return ValueError(
            f"{where} holds {nonfinite} non-finite values (NaN or inf): the images must be "
            "finite; clean or drop the bad examples"
        )
    return ValueError(
        f"the images must lie in [-1, 1] (the models' tanh range), got values in "
        f"[{float(low):g}, {float(high):g}] in {where}: rescale them (x / 127.5 - 1 for 8-bit "
        "pixels) or load them with tfgen.data.load"
    )


class ImageModel(BuiltModel):
    """Base of `GAN` and `Autoencoder`: the plumbing both share.

    Subclasses set `image_shape` and `_image_role` (how the message of a wrong shape names the
    model, e.g. "generator makes"), count their training steps in `_training_step_counter()`
    and train and evaluate on checked float32 images in `_train_on` and `_test_on` (or on what
    `_inputs` makes of them and the batch).
    """

    _image_role = "model takes"
    #: With `jit_compile="auto"`: the `tfgen.models._jit` measurement's outcome, a dict of
    #: `jit_compile`, the typical ms per step with and without XLA (lower quartiles of the
    #: timed steps; None when XLA could not compile the step) and `xla_error` (XLA's error
    #: then, else None); None until decided.
    jit_decision = None
    _jit_auto = False
    #: Whether the subclass's training step, under a strategy, compiles its per-replica parts
    #: with XLA when `jit_compile` is on (`_compiled`), instead of Keras compiling the whole
    #: replicated step, which XLA refuses.
    _per_replica_xla_supported = False

    def compile(self, *args, jit_compile="auto", **kwargs):
        """Keras' `compile`; `jit_compile="auto"` chooses XLA or not by timing (`_jit`)."""
        distribute.check_strategy(self.distribute_strategy)
        self._jit_auto = isinstance(jit_compile, str) and jit_compile == "auto"
        self.jit_decision = None
        super().compile(*args, jit_compile=jit_compile, **kwargs)

    # -----------------------------------------------------------------------------------------
    # XLA under a distribution strategy.

    def _per_replica_xla(self):
        """Whether `jit_compile` means XLA-compiled parts of each replica's step (see `_compiled`):
        on, under an explicit `tf.distribute` strategy, for a subclass that supports it."""
        return (
            self._per_replica_xla_supported
            and bool(self.jit_compile)
            and distribute.is_replicated(self.distribute_strategy)
        )

    def _compiled(self, function, *networks):
        """`function`, compiled by XLA for each replica when `_per_replica_xla()` at tracing
        and none of the `networks` it calls synchronises replicas (`distribute.synchronizes`).

        Keras' `jit_compile=True` compiles `strategy.run(train_step)` as one XLA function: XLA
        refuses it, as its variables live on every replica's device and its collectives cross
        devices (with no CPU kernel for the multi-worker all-gather). So under a strategy the
        subclass's step runs its collectives (`distribute.known_batch_position`) and its
        optimizers' `apply` (the gradient all-reduce, the update) as TensorFlow ops, and
        everything between them, forward passes and gradients, in functions this compiles
        inside the replica function, each on its replica's device and variables. Gradients
        flow through them (TensorFlow differentiates a compiled function with a compiled one).
        A network with a synchronised batch norm all-reduces its moments inside its forward
        pass, which no per-replica XLA function can do: its parts run with TensorFlow's kernels.
        """
        if not self._per_replica_xla() or any(map(distribute.synchronizes, networks)):
            return function
        return tf.function(function, jit_compile=True, autograph=False)

    @contextlib.contextmanager
    def _whole_step_uncompiled(self):
        """Keras builds its step functions without XLA while the parts compile per replica."""
        if not self._per_replica_xla():
            yield
            return
        self.jit_compile = False
        try:
            yield
        finally:
            self.jit_compile = True

    def make_train_function(self, force=False):
        with self._whole_step_uncompiled():
            return super().make_train_function(force)

    def make_test_function(self, force=False):
        with self._whole_step_uncompiled():
            return super().make_test_function(force)

    def make_predict_function(self, force=False):
        with self._whole_step_uncompiled():
            return super().make_predict_function(force)

    # -----------------------------------------------------------------------------------------
    # Inputs.

    def fit(self, x=None, *args, **kwargs):
        _images.check_training_data(x, self.image_shape, self._image_role)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; no Keras warning
        elif isinstance(x, np.ndarray) or tf.is_tensor(x):
            # Keras batches arrays with a partial last batch; None is its default of 32.
            batch_size = kwargs.get("batch_size", args[1] if len(args) > 1 else None) or 32
            replicas = self.distribute_strategy.num_replicas_in_sync
            distribute.check_array_batches(len(x), batch_size, replicas)
        if self._jit_auto and self.jit_decision is None and _jit.measurable(self):
            chooser = _jit.JitChooser(verbose=kwargs.get("verbose", "auto") != 0)
            self.jit_compile = False  # measured first; the chooser switches to XLA after
            self.train_function = None
            if len(args) > 4:  # callbacks passed by position: (y, batch_size, epochs, verbose, ...)
                args = (*args[:4], [*(args[4] or []), chooser], *args[5:])
            else:
                kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), chooser]
        history = self._raising_bad_batches(super().fit, x, *args, **kwargs)
        if history is not None and history.epoch and not history.history:
            raise ValueError(
                "the training data held no batch: fit ran no training step (an empty or "
                "exhausted dataset, or a filter that drops everything)"
            )
        return history

    def evaluate(self, x=None, *args, **kwargs):
        if not kwargs.get("_use_cached_eval_dataset"):  # validation inside fit: checked once
            _images.check_training_data(x, self.image_shape, self._image_role)
        self._before_evaluate()
        return self._raising_bad_batches(super().evaluate, x, *args, **kwargs)

    def _before_evaluate(self):
        """Hook run at the start of every `evaluate`."""

    @staticmethod
    def _raising_bad_batches(run, *args, **kwargs):
        try:
            return run(*args, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            bad = _bad_batch_error(error.message)
            if bad is None:
                raise
            raise bad from None

    def train_step(self, data):
        with self._checked_images(data, self._training_step_counter()) as images:
            return self._train_on(self._inputs(images, data))

    def test_step(self, data):
        with self._checked_images(data) as images:
            return self._test_on(self._inputs(images, data))

    def _inputs(self, images, data):
        """What `_train_on` and `_test_on` take from a checked batch: the images by default."""
        return images

    @contextlib.contextmanager
    def _checked_images(self, data, batch_index=-1):
        """The float32 images of a batch, shape-checked, with their values asserted in-step.

        Every op of the step is created inside this context, so none of them (weights,
        optimizer counters, noise steps) runs unless the check passes. `batch_index` names the
        batch in the error (-1: an evaluation batch).
        """
        images = tf.cast(_images.images_of(data), tf.float32)
        _images.check_shape(images.shape, self.image_shape, self._image_role)
        images = tf.ensure_shape(images, (None, *self.image_shape))  # from_generator: unknown
        finite = tf.math.is_finite(images)
        nonfinite = tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.int32))
        low = tf.reduce_min(tf.where(finite, images, np.inf))
        high = tf.reduce_max(tf.where(finite, images, -np.inf))
        low_limit, high_limit = _images.allowed_range()
        ok = tf.logical_and(
            tf.equal(nonfinite, 0),
            tf.logical_or(
                tf.equal(tf.size(images), 0),
                tf.logical_and(low >= low_limit, high <= high_limit),
            ),
        )
        batch_index = tf.cast(batch_index, tf.int64)
        checks = [tf.debugging.Assert(ok, [_BAD_BATCH, batch_index, nonfinite, low, high])]
        replicas = self.distribute_strategy.num_replicas_in_sync
        if replicas > 1:
            # A replica without examples: TensorFlow's CPU kernels then fail inside the step
            # (a transposed convolution of an empty batch has the wrong channels).
            held = tf.shape(images)[0] > 0
            checks.append(tf.debugging.Assert(held, [_EMPTY_REPLICA, batch_index, replicas]))
        with tf.control_dependencies(checks):
            yield tf.identity(images)

    # -----------------------------------------------------------------------------------------
    # Optimizers.

    def _prepare_optimizer(self, optimizer, variables):
        """The optimizer to train `variables` with, inside this model's strategy.

        An optimizer made outside `strategy.scope()` holds its counters outside it, so it is
        made again from its config inside the scope (public Keras API; an already built one
        keeps its state and must be made inside the scope). It is wrapped for mixed precision
        and built now: Keras builds only `self.optimizer` by itself, building inside the first
        traced step fails under a distribution strategy (keras-team/keras issues 19246, 20164),
        and building here lets a loaded model restore the slots before their values are read.
        """
        optimizer = keras.optimizers.get(optimizer)
        with self.distribute_strategy.scope():
            optimizer = self._in_scope(optimizer)
            if keras.mixed_precision.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer
            ):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            if not optimizer.built:
                optimizer.build(variables)
        return optimizer

    def _in_scope(self, optimizer):
        extended = self.distribute_strategy.extended
        inner = getattr(optimizer, "inner_optimizer", None)
        if inner is not None:
            rebuilt = self._in_scope(inner)
            if rebuilt is inner and extended.variable_created_in_scope(optimizer.iterations.value):
                return optimizer
            config = optimizer.get_config()
            config.pop("inner_optimizer", None)
            return type(optimizer)(rebuilt, **config)
        if extended.variable_created_in_scope(optimizer.iterations.value):
            return optimizer
        if optimizer.built:
            raise ValueError(
                f"the optimizer {optimizer.name!r} was built outside the model's distribution "
                "strategy: create it (or leave it unbuilt) and compile inside strategy.scope()"
            )
        return type(optimizer).from_config(optimizer.get_config())

    # -----------------------------------------------------------------------------------------
    # Config.

    @classmethod
    def _from_config(cls, config, custom_objects, objects):
        """`cls(**config)` with the Keras objects named in `objects` deserialized first."""
        config = dict(config)
        for key in objects:
            value = config.get(key)
            if isinstance(value, dict) and "class_name" in value:
                config[key] = keras.saving.deserialize_keras_object(
                    value, custom_objects=custom_objects
                )
        # Written by keras.Model.get_config, not arguments of the tfgen models.
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))


def sampling_network(model):
    """The network that turns codes into images for `model`.

    A GAN's moving-average generator when it has one (`sampling_generator`), else its
    `generator`, else a reconstruction model's `decoder`; a `keras.Model` that is none of these
    is taken as the network itself.

    Raises:
        ValueError: `model` is not a `keras.Model` and has none of these networks.
    """
    for attribute in ("sampling_generator", "generator", "decoder"):
        network = getattr(model, attribute, None)
        if network is not None:
            return network
    if isinstance(model, keras.Model):
        return model
    raise ValueError(
        "expected a model with a sampling_generator, generator or decoder, or a keras.Model, "
        f"got {type(model).__name__}"
    )
