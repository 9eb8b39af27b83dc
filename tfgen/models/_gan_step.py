"""The training and evaluation step of `tfgen.models.GAN` (its mixin `GANStep`).

Moved from gan.py: the per-step random streams, the discriminator and generator updates, the
gradient penalty, the moving-average generator and the evaluation step.
"""

import tensorflow as tf

from tfgen import distribute, losses
from tfgen.augment import diff_augment
from tfgen.models import _labels
from tfgen.models._base import mean as _mean
from tfgen.optimizers import rules

# Independent random streams within one training step, folded into the stateless seed.
_STREAMS_PER_STEP = 64
# Offsets added to the GAN's seed, one per kind of random draw in a step.
_LATENT_SEED, _PENALTY_SEED, _LABEL_SEED = 0, 1, 2
_AUGMENT_REAL_SEED, _AUGMENT_FAKE_SEED, _AUGMENT_GENERATOR_SEED = 3, 4, 5


class GANStep:
    """The training and evaluation step of `GAN` (see its docstring); a mixin of it."""

    def _step_seed(self, offset, stream):
        """The stateless seed of one kind of draw (`offset`) in one stream of this step."""
        return tf.stack(
            [tf.cast(self.seed, tf.int64) + offset, self.noise_step * _STREAMS_PER_STEP + stream]
        )

    def _fake_batch(self, real_images, stream, training):
        """`(images, labels)` generated from the codes (and labels) of one random stream."""
        batch = tf.shape(real_images)[0]
        z = distribute.per_example_normal(
            [self.latent_dim], batch, self._step_seed(_LATENT_SEED, stream)
        )
        if self.num_classes is None:
            return self.generator(z, training=training), None
        labels = _labels.draw(self.num_classes, batch, self._step_seed(_LABEL_SEED, stream))
        return self.generator([z, labels], training=training), labels

    def _augmented(self, images, offset, stream):
        """DiffAugment of `images` with this step's draws (the images themselves without)."""
        if not self.augment:
            return images
        return diff_augment(images, self.augment, self._step_seed(offset, stream))

    def _discriminate(self, images, labels, training):
        inputs = images if labels is None else [images, labels]
        return _logits(self.discriminator(inputs, training=training))

    def _training_step_counter(self):
        return self.noise_step

    def _inputs(self, images, data):
        """`(images, labels)` of a checked batch; labels are None for an unconditional GAN."""
        if self.num_classes is None:
            return images, None
        return images, _labels.labels_of(data, self.num_classes)

    def _train_on(self, real):
        # The step's collectives first, so that what follows may compile per replica.
        with distribute.known_batch_position(tf.shape(real[0])[0]) as global_batch:
            return self._train_on_known_batch(real, global_batch)

    def _train_on_known_batch(self, real, global_batch):
        # Forward passes and gradients run in `_compiled` parts (XLA under a strategy with
        # jit_compile on; the functions themselves otherwise), optimizer updates between them.
        fake_batch = self._compiled(self._fake_batch, self.generator)
        generator_objective = self._compiled(self._generator_objective, self.discriminator)

        # One generator pass serves the first discriminator update and the generator update,
        # as in the PyTorch DCGAN example: the generator's tape records it, and stops
        # recording while the discriminator trains on the detached images.
        with tf.GradientTape() as generator_tape:
            fake_images, fake_labels = fake_batch(real[0], stream=0, training=True)
            with generator_tape.stop_recording():
                # Train the discriminator, `discriminator_steps` times, on fresh codes after
                # the first.
                detached = (tf.stop_gradient(fake_images), fake_labels)
                self._discriminator_step(real, detached, global_batch, stream=0)
                for step in range(1, self.discriminator_steps):
                    more = fake_batch(real[0], stream=step, training=True)
                    self._discriminator_step(real, more, global_batch, stream=step)
            # Train the generator against the updated discriminator (through the augmentation).
            scaled, per_example = generator_objective(fake_images, fake_labels, global_batch)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply(generator_tape.gradient(scaled, variables), variables)
        self.g_loss_tracker.update_state(_mean(per_example), sample_weight=tf.size(per_example))

        if self.ema_generator is not None:
            self._update_ema_generator()
        self.noise_step.assign_add(1)
        return distribute.step_logs(self.metrics, self.distribute_strategy)

    def _generator_objective(self, fake_images, fake_labels, global_batch):
        """The generator's scaled loss against the discriminator, and its per-example losses."""
        augmented = self._augmented(fake_images, _AUGMENT_GENERATOR_SEED, stream=0)
        fake_logits = self._discriminate(augmented, fake_labels, training=True)
        per_example = self.loss_functions.generator(fake_logits)
        loss = distribute.average_over_global_batch(per_example, global_batch)
        objective = rules.orient(loss, rules.is_maximizing(self.generator_optimizer))
        return self.generator_optimizer.scale_loss(objective), per_example

    def _discriminator_step(self, real, fake, global_batch, stream):
        gradients, real_logits, fake_logits, per_example, penalty = self._compiled(
            self._discriminator_gradients, self.discriminator
        )(real, fake, global_batch, stream)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(gradients, variables)
        self._track_discriminator(real_logits, fake_logits, per_example, penalty)

    def _discriminator_gradients(self, real, fake, global_batch, stream):
        """The discriminator's gradients, its logits, per-example losses and penalties."""
        with tf.GradientTape() as tape:
            real_logits, fake_logits, per_example, penalty = self._discriminator_losses(
                real, fake, global_batch, stream, training=True
            )
            loss = distribute.average_over_global_batch(per_example, global_batch)
            objective = rules.orient(loss, rules.is_maximizing(self.discriminator_optimizer))
            scaled = self.discriminator_optimizer.scale_loss(objective)
        gradients = tape.gradient(scaled, self.discriminator.trainable_variables)
        return gradients, real_logits, fake_logits, per_example, penalty

    def _discriminator_losses(self, real, fake, global_batch, stream, training):
        """Logits on real and fake `(images, labels)` and the per-example loss, penalty included.

        With `augment`, real and generated images are transformed (independently drawn) before
        the discriminator sees them, in the penalty too (Zhao et al. 2020).
        """
        real_images = self._augmented(real[0], _AUGMENT_REAL_SEED, stream)
        fake_images = self._augmented(fake[0], _AUGMENT_FAKE_SEED, stream)
        if self.discriminator_batch_norm:
            # Batch statistics of real images alone and of generated ones alone.
            real_logits = self._discriminate(real_images, real[1], training)
            fake_logits = self._discriminate(fake_images, fake[1], training)
        else:
            # One pass over real and fake together: the discriminator treats examples
            # independently, and one large batch runs faster than two.
            labels = None if real[1] is None else tf.concat([real[1], fake[1]], 0)
            images = tf.concat([real_images, fake_images], 0)
            real_logits, fake_logits = tf.split(self._discriminate(images, labels, training), 2)
        per_example = self.loss_functions.discriminator(real_logits, fake_logits)
        penalty = None
        if self.gradient_penalty:
            penalty = self._penalty(real_images, fake_images, real[1], stream, training)
            name, weight = self.gradient_penalty
            # R1's gamma multiplies half the squared norm (Mescheder et al. 2018, eq. 9).
            per_example = per_example + (weight / 2 if name == "r1" else weight) * penalty
        return real_logits, fake_logits, per_example, penalty

    def _penalty(self, real, fake, labels, stream, training):
        """The gradient penalty; a conditional discriminator is held at the real images' labels."""
        name, _ = self.gradient_penalty
        critic = self.discriminator
        if labels is not None:

            def critic(images):
                return self.discriminator([images, labels], training=training)

        if name == "r1":
            return losses.r1_penalty(critic, real, training=training)
        seed = self._step_seed(_PENALTY_SEED, stream)
        weights = distribute.per_example_uniform([1, 1, 1], tf.shape(real)[0], seed)
        return losses.wgan_gp_penalty(critic, real, fake, weights, training=training)

    def _track_discriminator(self, real_logits, fake_logits, per_example, penalty):
        if penalty is not None:
            self.penalty_tracker.update_state(_mean(penalty), sample_weight=tf.size(penalty))
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
        global_batch = distribute.global_batch_size(tf.shape(real[0])[0])
        stream = _STREAMS_PER_STEP - 1
        fake = self._fake_batch(real[0], stream, training=False)
        real_logits, fake_logits, per_example, penalty = self._discriminator_losses(
            real, fake, global_batch, stream, training=False
        )
        self._track_discriminator(real_logits, fake_logits, per_example, penalty)
        g_losses = self.loss_functions.generator(fake_logits)
        self.g_loss_tracker.update_state(_mean(g_losses), sample_weight=tf.size(g_losses))
        return distribute.step_logs(self.metrics, self.distribute_strategy)


def _logits(outputs):
    return tf.reshape(tf.cast(outputs, tf.float32), [-1])
