"""Class-conditional generation: the conditional builders, the GAN, data, export and sampling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import architectures

SIDE, CLASSES, LATENT, FILTERS = 8, 3, 8, 4


def _latent(n, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=(n, LATENT)), tf.float32)


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (n, SIDE, SIDE, 1)), tf.float32)


# --------------------------------------------------------------------------------------------
# Builders.


def test_conditional_builders_take_labels_and_keep_shapes():
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS, num_classes=CLASSES)
    discriminator = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), FILTERS, spectral_norm=True, num_classes=CLASSES
    )
    assert generator.input_shape == [(None, LATENT), (None,)]
    assert discriminator.input_shape == [(None, SIDE, SIDE, 1), (None,)]
    labels = tf.constant([0, 1, 2, 1])
    images = generator([_latent(4), labels], training=True)
    assert images.shape == (4, SIDE, SIDE, 1) and images.dtype == tf.float32
    assert discriminator([images, labels], training=True).shape == (4, 1)


def test_projection_discriminator_matches_hand_computation():
    """D(x, y) = w . phi(x) + b + V[y] . phi(x) (Miyato & Koyama 2018, eq. 3)."""
    keras.utils.set_random_seed(0)
    discriminator = architectures.dcgan_discriminator((SIDE, SIDE, 1), FILTERS, num_classes=CLASSES)
    images, labels = _images(5), tf.constant([0, 2, 1, 2, 0])
    features_model = keras.Model(discriminator.inputs, discriminator.get_layer("flatten").output)
    phi = features_model([images, labels]).numpy().astype(np.float64)
    kernel, bias = (w.numpy() for w in discriminator.get_layer("logit_dense").weights)
    projection = discriminator.get_layer("label_projection").embeddings.numpy()
    assert projection.shape == (CLASSES, phi.shape[1])
    expected = phi @ kernel[:, 0] + bias[0] + np.sum(projection[labels.numpy()] * phi, axis=1)
    got = discriminator([images, labels]).numpy()[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The label matters: another class gives another logit for the same image.
    other = discriminator([images, (labels + 1) % CLASSES]).numpy()[:, 0]
    assert np.all(np.abs(other - got) > 1e-6)


def test_conditional_batch_norm_scales_and_shifts_per_class():
    """BN(x) * (1 + gamma[y]) + beta[y], the gains and biases starting at zero."""
    keras.utils.set_random_seed(0)
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS, num_classes=CLASSES)
    gamma = generator.get_layer("project_bn_gamma").embeddings
    beta = generator.get_layer("project_bn_beta").embeddings
    assert np.all(gamma.numpy() == 0) and np.all(beta.numpy() == 0)
    rng = np.random.default_rng(1)
    gamma.assign(rng.normal(size=gamma.shape))
    beta.assign(rng.normal(size=beta.shape))
    inputs = [_latent(6), tf.constant([0, 1, 2, 2, 1, 0])]
    normalized = keras.Model(generator.inputs, generator.get_layer("project_bn").output)
    conditional = keras.Model(
        generator.inputs, generator.get_layer("project_bn_conditional").output
    )
    x = normalized(inputs, training=True).numpy()
    # Plain batch normalisation of the projection: zero mean, unit variance per channel.
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    labels = inputs[1].numpy()
    expected = (
        x * (1 + gamma.numpy()[labels][:, None, None, :]) + beta.numpy()[labels][:, None, None, :]
    )
    got = conditional(inputs, training=True).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_conditional_builders_save_and_load_safely(tmp_path):
    generator = architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, FILTERS, num_classes=CLASSES)
    discriminator = architectures.dcgan_discriminator(
        (SIDE, SIDE, 1), FILTERS, spectral_norm=True, num_classes=CLASSES
    )
    labels = tf.constant([2, 0])
    for model, inputs in ((generator, [_latent(2), labels]), (discriminator, [_images(2), labels])):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_allclose(loaded(inputs), model(inputs), rtol=1e-6)


@pytest.mark.parametrize("num_classes", [0, -2, 2.5, True, "10"])
def test_bad_num_classes_is_refused(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        architectures.dcgan_generator((SIDE, SIDE, 1), LATENT, num_classes=num_classes)
    with pytest.raises(ValueError, match="num_classes"):
        architectures.dcgan_discriminator((SIDE, SIDE, 1), num_classes=num_classes)
