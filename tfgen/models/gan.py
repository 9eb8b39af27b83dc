"""A generative adversarial network as a `keras.Model` trained with `fit`."""

import keras
import numpy as np
import tensorflow as tf

from tfgen import distribute, losses
from tfgen.models import _base
from tfgen.models._base import mean as _mean
from tfgen.optimizers import Adam

# Radford et al. (2015), "Unsupervised Representation Learning with Deep Convolutional GANs":
# Adam with learning rate 2e-4 and beta_1 0.5 for both networks.
DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA_1 = 0.5
# Independent random streams within one training step, folded into the stateless seed.
_STREAMS_PER_STEP = 64


def default_optimizer():
    """Adam(2e-4, beta_1=0.5), the DCGAN setting (Radford et al. 2015)."""
    return Adam(learning_rate=DEFAULT_LEARNING_RATE, beta_1=DEFAULT_BETA_1)


@keras.saving.register_keras_serializable(package="tfgen")
class GAN(_base.ImageModel):
    """A generator and a discriminator trained against each other with `model.fit`.

    `fit` takes batches of real images in [-1, 1] (or `(images, labels)` pairs; labels are
    ignored). Each step makes `discriminator_steps` discriminator updates, then one generator
    update against the updated discriminator, with the losses of `tfgen.losses` (Goodfellow et
    al. 2014 and successors). The first discriminator update and the generator update share
    one batch of generated images, so a step runs the generator forward once.

    Under any `tf.distribute` strategy, create the GAN inside `strategy.scope()`; `compile`
    builds both optimizers there. Losses are averaged over the global batch and latent codes
    are drawn per example of the global batch from a stateless seed of the step, so training on
    N replicas gives the weights one device gives with the same global batch.

    `jit_compile` follows Keras: "auto" turns XLA on for a single GPU and off on CPUs (where
    XLA's convolutions are slower) and under a distribution strategy (Keras disables it there).
    XLA draws other random numbers than TensorFlow's kernels for the same seed, so a run with
    XLA follows another (equally valid) trajectory than one without.

    Args:
        generator: A built `keras.Model` mapping latent codes (batch, latent_dim) to images
            (batch, H, W, C) in [-1, 1].
        discriminator: A built `keras.Model` mapping such images to one logit per image,
            (batch, 1) or (batch,).
        latent_dim: Size of the latent code; inferred from the generator when `None`.
        seed: Seed of the latent codes drawn during training. Defaults to a random one.
        name: Model name. Defaults to `"gan"`.
    """

    _image_role = "generator makes"

    def __init__(self, generator, discriminator, latent_dim=None, seed=None, name="gan", **kw):
        super().__init__(name=name, **kw)
        self.latent_dim = _check_generator(generator, latent_dim)
        self.image_shape = tuple(generator.output_shape[1:])
        _check_discriminator(discriminator, self.image_shape)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(np.random.default_rng().integers(2**31 - 1) if seed is None else seed)
        self.ema_generator = None
        # Counts training steps for the stateless noise seed; saved with the model so that a
        # restored run draws the codes an uninterrupted one would.
        self.noise_step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="noise_step"
        )
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.built = True

    # ----------------------------------------------------------------------------------------
    # Configuration.

    def compile(
        self,
        generator_optimizer=None,
        discriminator_optimizer=None,
        loss="non_saturating",
        gradient_penalty=None,
        discriminator_steps=1,
        generator_ema=None,
        **kwargs,
    ):
        """Configures training.

        Args:
            generator_optimizer: Optimizer instance, name or config of the generator.
                Defaults to tfgen `Adam(2e-4, beta_1=0.5)` (Radford et al. 2015).
            discriminator_optimizer: The same for the discriminator. An optimizer with
                `maximize=True` ascends the discriminator's objective (minus its loss).
            loss: One of `tfgen.losses.LOSSES`. Defaults to `"non_saturating"`.
            gradient_penalty: `None`, `("wgan_gp", weight)` or `("r1", gamma)`.
            discriminator_steps: Discriminator updates per generator update, >= 1.
            generator_ema: `None` or the decay in [0, 1) of an exponential moving average of
                the generator's weights (Karras et al. 2018); sampling and export then use it.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, `run_eagerly`,
                `steps_per_execution`).
        """
        self.loss_functions = losses.get(loss)
        self.gradient_penalty = losses.parse_gradient_penalty(gradient_penalty)
        # Each discriminator step draws its own random stream; the last stream is evaluation's.
        most = _STREAMS_PER_STEP - 1
        if (
            isinstance(discriminator_steps, bool)
            or not isinstance(discriminator_steps, int)
            or not 1 <= discriminator_steps < most
        ):
            raise ValueError(
                f"discriminator_steps must be an int >= 1 (and < {most}), "
                f"got {discriminator_steps!r}"
            )
        if generator_ema is not None and not 0 <= generator_ema < 1:
            raise ValueError(
                f"generator_ema must be None or a float in [0, 1), got {generator_ema}"
            )
        for key in ("optimizer", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"GAN.compile takes generator_optimizer and discriminator_optimizer, not {key}"
                )
        super().compile(optimizer=None, **kwargs)
        self.discriminator_steps = discriminator_steps
        self.generator_ema = generator_ema
        self._compile_arguments = dict(
            generator_optimizer=keras.optimizers.get(generator_optimizer or default_optimizer()),
            discriminator_optimizer=keras.optimizers.get(
                discriminator_optimizer or default_optimizer()
            ),
            loss=loss,
            gradient_penalty=self.gradient_penalty,
            discriminator_steps=discriminator_steps,
            generator_ema=generator_ema,
        )
        self.generator_optimizer = self._prepare_optimizer(
            self._compile_arguments["generator_optimizer"], self.generator.trainable_variables
        )
        self.discriminator_optimizer = self._prepare_optimizer(
            self._compile_arguments["discriminator_optimizer"],
            self.discriminator.trainable_variables,
        )
        with self.distribute_strategy.scope():
            self.ema_generator = self._make_ema_generator() if generator_ema is not None else None

    def _make_ema_generator(self):
        ema = keras.Model.from_config(self.generator.get_config())
        ema.set_weights(self.generator.get_weights())
        ema.trainable = False
        return ema

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return keras.saving.serialize_keras_object(self._compile_arguments)

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            latent_dim=self.latent_dim,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls._from_config(config, custom_objects, ("generator", "discriminator"))

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker]
        trackers.append(self.d_fake_tracker)
        if getattr(self, "gradient_penalty", None):
            trackers.append(self.penalty_tracker)
        return trackers

    # ----------------------------------------------------------------------------------------
    # Sampling.

    @property
    def sampling_generator(self):
        """The generator used to sample: the moving average when `generator_ema` is set."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, z, training=False):
        return self.sampling_generator(z, training=training)

    def generate(self, n, seed=None):
        """Returns `n` generated images in [0, 1] as a numpy array (batch, H, W, C)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if seed is None:
            z = tf.random.normal([n, self.latent_dim])
        else:
            z = tf.random.stateless_normal([n, self.latent_dim], seed=[int(seed), 0])
        return _base.to_unit_range(self.sampling_generator(z, training=False))

    # ----------------------------------------------------------------------------------------
    # Training.

    def _latent_codes(self, real, stream):
        seed = tf.stack(
            [tf.cast(self.seed, tf.int64), self.noise_step * _STREAMS_PER_STEP + stream]
        )
        return distribute.per_example_normal([self.latent_dim], tf.shape(real)[0], seed)

    def _training_step_counter(self):
        return self.noise_step

    def _train_on(self, real):
        global_batch = distribute.global_batch_size(tf.shape(real)[0])

        # One generator pass serves the first discriminator update and the generator update,
        # as in the PyTorch DCGAN example: the generator's tape records it, and stops
        # recording while the discriminator trains on the detached images.
        with tf.GradientTape() as generator_tape:
            fake = self.generator(self._latent_codes(real, stream=0), training=True)
            with generator_tape.stop_recording():
                # Train the discriminator, `discriminator_steps` times, on fresh codes after
                # the first.
                self._discriminator_step(real, tf.stop_gradient(fake), global_batch, stream=0)
                for step in range(1, self.discriminator_steps):
                    more = self.generator(self._latent_codes(real, stream=step), training=True)
                    self._discriminator_step(real, more, global_batch, stream=step)
            # Train the generator against the updated discriminator.
            fake_logits = _logits(self.discriminator(fake, training=True))
            per_example = self.loss_functions.generator(fake_logits)
            loss = distribute.average_over_global_batch(per_example, global_batch)
            objective = -loss if _base.is_maximizing(self.generator_optimizer) else loss
            scaled = self.generator_optimizer.scale_loss(objective)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply(generator_tape.gradient(scaled, variables), variables)
        self.g_loss_tracker.update_state(_mean(per_example), sample_weight=tf.size(per_example))

        if self.ema_generator is not None:
            self._update_ema_generator()
        self.noise_step.assign_add(1)
        return distribute.step_logs(self.metrics, self.distribute_strategy)

    def _discriminator_step(self, real, fake, global_batch, stream):
        with tf.GradientTape() as tape:
            real_logits, fake_logits, per_example = self._discriminator_losses(
                real, fake, global_batch, stream, training=True
            )
            loss = distribute.average_over_global_batch(per_example, global_batch)
            objective = -loss if _base.is_maximizing(self.discriminator_optimizer) else loss
            scaled = self.discriminator_optimizer.scale_loss(objective)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)
        self._track_discriminator(real_logits, fake_logits, per_example)

    def _discriminator_losses(self, real, fake, global_batch, stream, training):
        """Logits on real and fake images and the per-example loss, penalty included."""
        # One pass over real and fake together: the discriminator treats examples
        # independently (no batch norm), and one large batch runs faster than two.
        logits = _logits(self.discriminator(tf.concat([real, fake], 0), training=training))
        real_logits, fake_logits = tf.split(logits, 2)
        per_example = self.loss_functions.discriminator(real_logits, fake_logits)
        if self.gradient_penalty:
            penalty = self._penalty(real, fake, stream, training)
            self.penalty_tracker.update_state(_mean(penalty), sample_weight=tf.size(penalty))
            name, weight = self.gradient_penalty
            # R1's gamma multiplies half the squared norm (Mescheder et al. 2018, eq. 9).
            per_example = per_example + (weight / 2 if name == "r1" else weight) * penalty
        return real_logits, fake_logits, per_example

    def _penalty(self, real, fake, stream, training):
        name, _ = self.gradient_penalty
        if name == "r1":
            return losses.r1_penalty(self.discriminator, real, training=training)
        seed = tf.stack(
            [tf.cast(self.seed, tf.int64) + 1, self.noise_step * _STREAMS_PER_STEP + stream]
        )
        weights = distribute.per_example_uniform([1, 1, 1], tf.shape(real)[0], seed)
        return losses.wgan_gp_penalty(self.discriminator, real, fake, weights, training=training)

    def _track_discriminator(self, real_logits, fake_logits, per_example):
        count = tf.size(per_example)
        self.d_loss_tracker.update_state(_mean(per_example), sample_weight=count)
        self.d_real_tracker.update_state(_mean(real_logits), sample_weight=count)
        self.d_fake_tracker.update_state(_mean(fake_logits), sample_weight=count)

    def _update_ema_generator(self):
        decay = self.generator_ema

        def average(ema_variable, variable):
            ema_variable.assign(decay * ema_variable + (1.0 - decay) * variable)

        def copy(ema_variable, variable):
            ema_variable.assign(variable)

        # Weights are averaged; batch-norm statistics, which are averages already, are copied.
        pairs = list(zip(self.ema_generator.weights, self.generator.weights))
        trainable = [(e.value, v.value) for e, v in pairs if v.trainable]
        statistics = [(e.value, v.value) for e, v in pairs if not v.trainable]
        distribute.sync_update(trainable, average)
        if statistics:
            distribute.sync_update(statistics, copy)

    def _test_on(self, real):
        global_batch = distribute.global_batch_size(tf.shape(real)[0])
        fake = self.generator(self._latent_codes(real, _STREAMS_PER_STEP - 1), training=False)
        real_logits, fake_logits, per_example = self._discriminator_losses(
            real, fake, global_batch, _STREAMS_PER_STEP - 1, training=False
        )
        self._track_discriminator(real_logits, fake_logits, per_example)
        g_losses = self.loss_functions.generator(fake_logits)
        self.g_loss_tracker.update_state(_mean(g_losses), sample_weight=tf.size(g_losses))
        return distribute.step_logs(self.metrics, self.distribute_strategy)


def _logits(outputs):
    return tf.reshape(tf.cast(outputs, tf.float32), [-1])


def _check_generator(generator, latent_dim):
    if not isinstance(generator, keras.Model) or not generator.built:
        raise ValueError(f"generator must be a built keras.Model, got {generator!r}")
    input_shape, output_shape = generator.input_shape, generator.output_shape
    if not isinstance(input_shape, tuple) or len(input_shape) != 2:
        raise ValueError(
            f"generator must take latent codes of shape (batch, latent_dim), got {input_shape}"
        )
    if len(output_shape) != 4:
        raise ValueError(f"generator must return images (batch, H, W, C), got {output_shape}")
    if latent_dim is not None and latent_dim != input_shape[-1]:
        raise ValueError(
            f"latent_dim={latent_dim} does not match the generator's input size {input_shape[-1]}"
        )
    return int(input_shape[-1])


def _check_discriminator(discriminator, image_shape):
    if not isinstance(discriminator, keras.Model) or not discriminator.built:
        raise ValueError(f"discriminator must be a built keras.Model, got {discriminator!r}")
    if tuple(discriminator.input_shape[1:]) != image_shape:
        raise ValueError(
            f"discriminator takes images of shape {tuple(discriminator.input_shape[1:])}, "
            f"but the generator makes {image_shape}"
        )
    output_shape = tuple(discriminator.output_shape[1:])
    if output_shape not in ((), (1,)):
        raise ValueError(
            "discriminator must return one logit per image, shape (batch, 1) or (batch,), "
            f"got (batch, {', '.join(map(str, output_shape))})"
        )
