"""The private Keras methods that tfgen/_keras_compat.py hooks are those it was written for."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import _keras_compat
from tfgen.optimizers import ConjugateGradient


@pytest.mark.parametrize("name", sorted(_keras_compat.HOOKED_KERAS_METHODS))
def test_hooked_keras_methods_are_unchanged(name):
    pinned = _keras_compat.HOOKED_KERAS_METHODS[name]
    installed = _keras_compat.keras_method_source_hash(name)
    assert installed == pinned, (
        f"keras.optimizers.Optimizer.{name} changed: Keras {keras.__version__} is installed, "
        f"tfgen/_keras_compat.py was checked against Keras {_keras_compat.PINNED_KERAS_VERSION}. "
        "Re-read that method in the installed Keras (keras/src/optimizers/base_optimizer.py and "
        "keras/src/backend/tensorflow/optimizer.py) and check that WholeStepOptimizer still "
        "receives the final gradients of all variables (after clipping, weight decay, "
        "accumulation and loss-scale unscaling, summed across replicas) and updates each "
        "variable as Keras does; then record the new hash in HOOKED_KERAS_METHODS."
    )


def test_hooked_method_keeps_its_signature():
    signature = inspect.signature(keras.optimizers.Optimizer._backend_update_step)
    assert list(signature.parameters) == ["self", "grads", "trainable_variables", "learning_rate"]


def test_the_hook_sees_all_final_gradients_once_per_step():
    seen = []

    class Recording(ConjugateGradient):
        def prepare_step(self, grads_and_vars):
            seen.append([g.numpy() for g, _ in grads_and_vars])
            return super().prepare_step(grads_and_vars)

    variables = [keras.Variable([3.0, 4.0]), keras.Variable([[1.0]])]
    optimizer = Recording(learning_rate=0.1, global_clipnorm=1.0, loss_scale_factor=2.0)
    grads = [tf.constant([6.0, 8.0]), tf.constant([[0.0]])]
    optimizer.apply_gradients(zip(grads, variables))
    # Unscaled (/2 -> norm 5), then clipped to global norm 1, all variables in one call.
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0][0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(seen[0][1], [[0.0]])
    # First step: beta 0, so w = w - lr g.
    np.testing.assert_allclose(variables[0].numpy(), [3.0 - 0.06, 4.0 - 0.08], rtol=1e-6)


def test_declared_keras_ceiling_is_the_pinned_release():
    # setup.cfg lets pip install no Keras newer than the one the hashes above were taken from, so
    # a fresh install after a Keras release cannot fail this file though nothing is broken.
    import configparser
    from pathlib import Path

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    requirements = config["options"]["install_requires"].split("\n")
    (keras_line,) = [line for line in requirements if line.startswith("keras")]
    major, minor, _ = _keras_compat.PINNED_KERAS_VERSION.split(".")
    assert keras_line.endswith(f",<{major}.{int(minor) + 1}"), keras_line
@pytest.mark.parametrize("name", sorted(_keras_compat.HOOKED_MODEL_METHODS))
def test_hooked_model_methods_are_unchanged(name):
    pinned = _keras_compat.HOOKED_MODEL_METHODS[name]
    installed = _keras_compat.keras_method_source_hash(name, keras.Model)
    assert installed == pinned, (
        f"keras.Model.{name} changed: Keras {keras.__version__} is installed, "
        f"tfgen/_keras_compat.py was checked against Keras {_keras_compat.PINNED_KERAS_VERSION}. "
        "Re-read _maybe_symbolic_build and _symbolic_build (keras/src/backend/tensorflow/"
        "trainer.py, keras/src/trainers/trainer.py) and check that BuiltModel.unbuilt still "
        "lists everything _symbolic_build builds; then record the new hash."
    )


def test_a_built_model_under_a_strategy_reads_its_data_through_one_iterator(two_replicas):
    """Keras' build step would open an iterator of its own and draw a batch from it first."""

    class Linear(_keras_compat.BuiltModel):  # Subclassed: built by its first fit.
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    with two_replicas.scope():
        model = Linear()
        model.compile(optimizer="sgd", loss="mse")
    iterators = []

    def examples():  # Called once for each iterator opened on the dataset.
        iterators.append(1)
        for _ in range(8):
            yield np.zeros(2, "float32"), np.zeros(1, "float32")

    spec = (tf.TensorSpec([2], tf.float32), tf.TensorSpec([1], tf.float32))
    data = tf.data.Dataset.from_generator(examples, output_signature=spec).batch(4)
    assert model.optimizer in model.unbuilt() and model.dense in model.unbuilt()
    model.fit(data, epochs=1, verbose=0)  # Builds the layer and optimizer: Keras' build runs.
    assert len(iterators) == 2
    assert model.unbuilt() == []
    model.fit(data, epochs=1, verbose=0)
    assert len(iterators) == 3
