"""The one pinning test of private Keras and TensorFlow API: every hook of tfgen/_keras_compat.py
is the one it was written for, in every Keras release of the range setup.cfg declares.

A newer Keras cannot fail it by existing: setup.cfg caps Keras below the first release not yet
read (`test_declared_keras_range_was_checked`); .ci/dependency_floor.sh and
.ci/dependency_ceiling.sh run this file at both ends of the range."""

import configparser
import inspect
import re
from pathlib import Path

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
    assert installed in pinned, (
        f"keras.optimizers.Optimizer.{name} changed: Keras {keras.__version__} is installed, "
        f"tfgen/_keras_compat.py was checked against {_keras_compat.CHECKED_KERAS_RELEASES}. "
        "Re-read that method in the installed Keras (keras/src/optimizers/base_optimizer.py and "
        "keras/src/backend/tensorflow/optimizer.py) and check that WholeStepOptimizer still "
        "receives the final gradients of all variables (after clipping, weight decay, "
        "accumulation and loss-scale unscaling, summed across replicas) and updates each "
        "variable as Keras does (and that _get_variable_index still gives a variable's position "
        "in the optimizer's list); then add the new hash to HOOKED_KERAS_METHODS."
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


def _declared_range(package):
    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    requirements = config["options"]["install_requires"].split("\n")
    (line,) = [line for line in requirements if line.split(">")[0].strip() == package]
    floor, ceiling = re.fullmatch(rf"{package}>=(\d+\.\d+),<(\d+\.\d+)", line.strip()).groups()
    return [tuple(map(int, floor.split("."))), tuple(map(int, ceiling.split(".")))]


def test_declared_keras_range_was_checked():
    # Every minor release pip may install was read and hashed, and none past it may be
    # installed, so a fresh install after a Keras release cannot fail this file.
    (floor, ceiling) = _declared_range("keras")
    checked = sorted(
        {tuple(map(int, v.split(".")[:2])) for v in _keras_compat.CHECKED_KERAS_RELEASES}
    )
    assert checked[0] == floor, (floor, checked)
    assert (checked[-1][0], checked[-1][1] + 1) == ceiling, (ceiling, checked)
    assert checked == [(3, minor) for minor in range(floor[1], ceiling[1])], checked


def test_variable_index_is_the_position_in_the_built_list():
    variables = [keras.Variable([1.0]), keras.Variable([[2.0]]), keras.Variable(3.0)]
    optimizer = keras.optimizers.SGD()
    optimizer.build(variables)
    assert [_keras_compat.variable_index(optimizer, v) for v in reversed(variables)] == [2, 1, 0]


def test_in_multi_worker_mode_tells_a_single_worker(two_replicas):
    assert _keras_compat.in_multi_worker_mode(tf.distribute.get_strategy()) is False
    assert _keras_compat.in_multi_worker_mode(two_replicas) is False
    # True with several workers: tests/test_multi_worker.py runs two.


def test_in_xla_context_tells_xla_from_plain_functions():
    assert _keras_compat.GraphOrParentsInXlaContext is not None, "TensorFlow moved it"
    answers = {}

    def probe(name):
        answers[name] = _keras_compat.in_xla_context()
        return tf.constant(0.0)

    probe("eager")
    tf.function(lambda: probe("plain"))()
    tf.function(lambda: probe("xla"), jit_compile=True)()
    assert answers == {"eager": False, "plain": False, "xla": True}


def test_optimizer_merge_call_is_the_one_keras_uses():
    # WholeStepOptimizer calls TensorFlow's maybe_merge_call with the optimizer's strategy.
    assert callable(tf.__internal__.distribute.interim.maybe_merge_call)
    optimizer = keras.optimizers.SGD()
    assert optimizer._distribution_strategy is tf.distribute.get_strategy()


@pytest.mark.parametrize("name", sorted(_keras_compat.HOOKED_MODEL_METHODS))
def test_hooked_model_methods_are_unchanged(name):
    pinned = _keras_compat.HOOKED_MODEL_METHODS[name]
    installed = _keras_compat.keras_method_source_hash(name, keras.Model)
    assert installed in pinned, (
        f"keras.Model.{name} changed: Keras {keras.__version__} is installed, "
        f"tfgen/_keras_compat.py was checked against {_keras_compat.CHECKED_KERAS_RELEASES}. "
        "Re-read _maybe_symbolic_build and _symbolic_build (keras/src/backend/tensorflow/"
        "trainer.py, keras/src/trainers/trainer.py) and check that BuiltModel.unbuilt still "
        "lists everything _symbolic_build builds; then add the new hash."
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
