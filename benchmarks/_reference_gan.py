"""The reference GAN: written as the keras-io example "DCGAN overriding train_step" writes it.

Binary cross-entropy on the discriminator's logits with noisy labels (real 0, fake 1, plus
0.05 uniform noise), Keras' Adam(2e-4, beta_1=0.5) for both networks unless others are given
(the example itself uses Adam(1e-4), see `KERAS_IO_LEARNING_RATE`), codes from a Keras
`SeedGenerator`. The throughput benchmark gives it tfgen's generator and discriminator;
`keras_io_networks` builds the example's own, and `keras_twin` turns tfgen's networks into the
same networks written with Keras' own layers.
"""

import keras
import tensorflow as tf
from keras import layers, ops

import tfgen.activations
import tfgen.layers

#: tfgen's layers and the Keras layers that compute the same functions.
KERAS_TWINS = {
    tfgen.layers.Conv2D: keras.layers.Conv2D,
    tfgen.layers.BatchNormalization: keras.layers.BatchNormalization,
    tfgen.activations.LeakyReLU: keras.layers.LeakyReLU,
}


def keras_twin(model, twins=KERAS_TWINS):
    """`model` with Keras' layers in place of tfgen's (`twins`: tfgen class -> Keras class),
    and the same weights: what a user writes with Keras alone. Made inside a strategy's scope,
    a synchronised batch norm stays synchronised (its config says so)."""

    def clone(layer):
        kind = twins.get(type(layer), type(layer))
        return kind.from_config(layer.get_config())

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin

#: The example's Adam learning rate, for both networks (Keras' default betas).
KERAS_IO_LEARNING_RATE = 1e-4


def keras_io_networks(image_shape, latent_dim=128):
    """The example's generator and discriminator (written for 64x64 faces), for any side >= 8.

    Generator: ``Dense -> (side/8, side/8, 128) -> [Conv2DTranspose(k, 4, stride 2) ->
    LeakyReLU(0.2)] for k in (128, 256, 512) -> Conv2D(channels, 5, sigmoid)``; discriminator:
    ``[Conv2D(k, 4, stride 2) -> LeakyReLU(0.2)] for k in (64, 128, 128) -> Flatten ->
    Dropout(0.2) -> Dense(1)``. The example starts its generator at 8x8 for 64x64 images; here
    it starts at side/8 (1x1 for 8x8 digits). Two changes let it train on tfgen's [-1, 1]
    images: the sigmoid output is rescaled to [-1, 1] (an affine map of the discriminator's
    input, which its first convolution absorbs), and the discriminator's final sigmoid is left
    to the loss (`from_logits=True`, the same function, computed stably).
    """
    side, _, channels = image_shape
    start = side // 8
    generator = keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(start * start * 128),
            layers.Reshape((start, start, 128)),
            layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(256, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(512, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(channels, kernel_size=5, padding="same", activation="sigmoid"),
            layers.Rescaling(2.0, offset=-1.0),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(side, side, channels)),
            layers.Conv2D(64, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(1),
        ],
        name="discriminator",
    )
    return generator, discriminator


class ReferenceGAN(keras.Model):
    """The example's GAN. `training` is passed to every network call of its step: the example
    passes none, so Keras runs its layers in inference mode there (a batch normalisation
    normalises by its moving statistics, which never update, and dropout is off); `True`
    trains them as tfgen's step does (batch statistics, synchronised under a strategy)."""

    def __init__(self, discriminator, generator, latent_dim, training=None):
        super().__init__()
        self.training_mode = training
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer=None, g_optimizer=None):
        super().compile()
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        # Sample random points in the latent space and decode them to fake images.
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.generator(random_latent_vectors, training=self.training_mode)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        # Add random noise to the labels - important trick!
        labels += 0.05 * tf.random.uniform(tf.shape(labels))

        # Train the discriminator.
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=self.training_mode)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        # Train the generator (without updating the discriminator's weights).
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            fakes = self.generator(random_latent_vectors, training=self.training_mode)
            predictions = self.discriminator(fakes, training=self.training_mode)
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}

    def generate(self, n, seed=0):
        z = tf.random.stateless_normal([n, self.latent_dim], seed=[seed, 0])
        return ((self.generator(z, training=False).numpy() + 1) / 2).clip(0, 1)
