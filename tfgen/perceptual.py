"""A feature (perceptual) loss for restoration models: pixel loss plus distances between features.

`PerceptualLoss(feature_network)` is a reconstruction loss for `tfgen.models.Autoencoder`
(``Autoencoder(..., loss=PerceptualLoss(features))``): the pixel loss of the model ("l1", "l2",
"ssim" or a dict of weights over them) plus a weighted distance between the features that any
Keras network extracts from the clean and the restored images (Johnson et al. 2016,
"Perceptual Losses for Real-Time Style Transfer and Super-Resolution", eq. 2).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgen import _checks as checks
from tfgen import losses

__all__ = ["PerceptualLoss"]


@keras.saving.register_keras_serializable(package="tfgen")
class PerceptualLoss(keras.layers.Layer):
    """Pixel loss plus feature reconstruction loss, per example:

        loss_i = pixel(x_i, y_i) + weight * (1 / J) sum_j mean (phi_j(x_i) - phi_j(y_i))^2

    with phi_1..phi_J the outputs of `feature_network` (one or several) and each mean taken over
    a feature map's values, x the clean and y the restored images in [-1, 1]. Feature maps of
    unit scale give terms of the size of an l2 pixel loss; the network sees the images in
    [-1, 1] as they are, so put any preprocessing it expects (e.g. VGG's mean subtraction on
    [0, 255]) into the network itself.

    The feature network is frozen (never trained by the loss); as a layer of the model it is
    saved and loaded with it, weights included.

    Args:
        feature_network: A built `keras.Model` taking images shaped like the model's.
        weight: Weight >= 0 of the feature term. Defaults to 1.
        pixel_loss: The pixel term, a name or dict of weights as `Autoencoder`'s `loss`
            ("l1", "l2", "ssim", e.g. ``{"l1": 1.0, "ssim": 0.2}``). Defaults to "l1".
    """

    def __init__(self, feature_network, weight=1.0, pixel_loss="l1", **kwargs):
        kwargs.setdefault("name", "perceptual_loss")
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        if isinstance(feature_network, dict):
            feature_network = keras.saving.deserialize_keras_object(feature_network)
        checks.built_model(feature_network, "feature_network")
        weight = checks.number(weight, "weight", minimum=0)
        if callable(pixel_loss):
            raise ValueError(
                f"pixel_loss must be one of {losses.RECONSTRUCTION_LOSSES} or a dict of "
                f"weights over them, got {pixel_loss!r}"
            )
        self.pixel_loss = losses.check_reconstruction_loss(pixel_loss, "pixel_loss")
        self._pixel_fn = losses.reconstruction_loss(self.pixel_loss)
        self.feature_network = feature_network
        self.feature_network.trainable = False
        self.weight = float(weight)

    def features(self, images):
        """The feature maps of `images` in [-1, 1], a list of float32 tensors."""
        outputs = self.feature_network(images, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return [tf.cast(output, tf.float32) for output in outputs]

    def call(self, y_true, y_pred):
        y_true, y_pred = tf.cast(y_true, tf.float32), tf.cast(y_pred, tf.float32)
        loss = self._pixel_fn(y_true, y_pred)
        if self.weight == 0.0:
            return loss
        distances = [
            losses.mean_per_example(tf.square(a - b))
            for a, b in zip(self.features(y_true), self.features(y_pred), strict=True)
        ]
        return loss + self.weight * tf.add_n(distances) / len(distances)

    def get_config(self):
        config = super().get_config()
        pixel_loss = dict(self.pixel_loss) if isinstance(self.pixel_loss, dict) else self.pixel_loss
        config.update(
            feature_network=keras.saving.serialize_keras_object(self.feature_network),
            weight=self.weight,
            pixel_loss=pixel_loss,
        )
        config.pop("trainable", None)
        return config
