"""The one private Keras hook tfgen uses, in one place, pinned to the Keras it was written for.

`ConjugateGradient` needs one beta from inner products over the gradients of ALL variables,
taken after Keras has clipped, averaged (gradient accumulation) and unscaled them and, under
`tf.distribute`, summed them across replicas, and before any variable changes. Keras' public
`update_step` sees one variable at a time. The one place that sees all final gradients at once
is the private `_backend_update_step(grads, trainable_variables, learning_rate)`, which
`_backend_apply_gradients` calls and which the TensorFlow backend implements with
`_all_reduce_sum_gradients` and `_distributed_tf_update_step`.

`WholeStepOptimizer` overrides that method, and nothing else private. `HOOKED_KERAS_METHODS`
lists what it replaces or relies on, with a hash of each method's source in the pinned Keras
version; `tests/test_keras_compat.py` fails when an installed Keras changes any of them.
"""

import hashlib
import inspect

import keras
import tensorflow as tf

PINNED_KERAS_VERSION = "3.15.1"

# sha256 of `inspect.getsource` of each method, as `keras.optimizers.Optimizer` resolves it.
HOOKED_KERAS_METHODS = {
    # Replaced: must still be called with the final gradients of all variables.
    "_backend_update_step": "00bd759c099a6b72e88785836a38006d3d197c329b14bf6e75b77339460d3bc3",
    # The caller: clipping, weight decay, accumulation before it, EMA after it.
    "_backend_apply_gradients": "48d6e24d580392413add1616a1bd8acdd4e7f3fe41db2f130d34d8093ef4757d",
    # Called: the cross-replica gradient sum of the TensorFlow backend.
    "_all_reduce_sum_gradients": "953512efa56c968002e3ddf9c13f593a893cad8770391ab6c7a1c001fde513b0",
    # Mirrored: how the TensorFlow backend updates each variable under tf.distribute.
    "_distributed_tf_update_step": (
        "ec83c95231ba33ee08aec21749ca92dff304cb6f77bdb21376621e183f513b20"
    ),
}


def keras_method_source_hash(name):
    """sha256 of the source of `keras.optimizers.Optimizer.<name>` in the installed Keras."""
    source = inspect.getsource(getattr(keras.optimizers.Optimizer, name))
    return hashlib.sha256(source.encode()).hexdigest()


class WholeStepOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose step first computes one value from all gradients together.

    Subclasses implement `prepare_step(grads_and_vars) -> (grads_and_vars, shared)`, called
    once per step with the final gradients (summed across replicas), and
    `update_step_with(gradient, variable, learning_rate, shared)`, called for each variable on
    each device, with the same `shared` value everywhere.
    """

    def prepare_step(self, grads_and_vars):
        raise NotImplementedError

    def update_step_with(self, gradient, variable, learning_rate, shared):
        raise NotImplementedError

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(
            f"{type(self).__name__} updates all variables together: Keras no longer calls "
            "`_backend_update_step` as tfgen/_keras_compat.py expects."
        )

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if keras.backend.backend() != "tensorflow":
            grads_and_vars, shared = self.prepare_step(list(zip(grads, trainable_variables)))
            for gradient, variable in grads_and_vars:
                self.update_step_with(gradient, variable, learning_rate, shared)
            return
        # As the TensorFlow backend: sum across replicas (in replica context), then update
        # each variable on each device (cross-replica context), with `shared` computed in
        # between from the summed gradients, so every replica holds the same value.
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        grads_and_vars = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        grads_and_vars, shared = self.prepare_step(grads_and_vars)
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._update_all_with,
            self._distribution_strategy,
            grads_and_vars,
            shared,
            learning_rate,
        )

    def _update_all_with(self, distribution, grads_and_vars, shared, learning_rate):
        def update(variable, gradient, learning_rate, shared):
            self.update_step_with(gradient, variable, learning_rate, shared)

        for gradient, variable in grads_and_vars:
            distribution.extended.update(
                variable, update, args=(gradient, learning_rate, shared), group=False
            )
