"""The private Keras hooks tfgen uses, in one place, pinned to the Keras they were written for.

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

`BuiltModel` is the second hook. A model created under a `tf.distribute` strategy runs the
private `_maybe_symbolic_build` at the start of every `fit` and `evaluate`, which draws one
batch from a throwaway iterator of the training data to build what is not built yet. With a
model that is already built that draw builds nothing, but it is not free of effects: every
iterator of a shuffling `tf.data.Dataset` takes the next seed of the shuffle's one seed
generator, so the batches training then reads depend on how far the throwaway iterator read
(a resumed run's `data.repeat().skip(n)` reads across a reshuffle and takes a seed more than
an uninterrupted run's). `BuiltModel` skips it when there is nothing to build, the only case
in which `_symbolic_build` would do nothing; `HOOKED_MODEL_METHODS` pins both methods.
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


# The same, for the methods of `keras.Model` (TensorFlow backend) that `BuiltModel` relies on.
HOOKED_MODEL_METHODS = {
    # Replaced when nothing is unbuilt: draws a batch from a throwaway iterator, then builds.
    "_maybe_symbolic_build": "92a504f5eba9b29f81f1bf26180bdd5bf5186b06b7bda426534b90d2d02bc1c2",
    # What it builds: layers, compiled metrics and loss, the optimizer (`BuiltModel.unbuilt`).
    "_symbolic_build": "96220cc3b88fe768bdafe5f6aabcf874b92940abae365f8f24e5df2a5e6ae49f",
}


def keras_method_source_hash(name, owner=None):
    """sha256 of the source of `<owner>.<name>` in the installed Keras (owner: Keras' optimizer
    class by default)."""
    source = inspect.getsource(getattr(owner or keras.optimizers.Optimizer, name))
    return hashlib.sha256(source.encode()).hexdigest()


class BuiltModel(keras.Model):
    """A `keras.Model` whose `fit` under a strategy draws no batch when nothing is unbuilt.

    See the module docstring: Keras' `_maybe_symbolic_build` reads one batch from a throwaway
    iterator of the data to build the model, its compiled metrics and loss and its optimizer;
    here it runs only when one of them is unbuilt (`unbuilt`), as `_symbolic_build` checks.
    """

    def unbuilt(self):
        """What `_symbolic_build` would build: unbuilt layers, compiled metrics, loss, optimizer."""
        parts = [layer for layer in self._flatten_layers() if not layer.built]
        for part in (self._compile_metrics, self._compile_loss, self.optimizer):
            if part is not None and not part.built:
                parts.append(part)
        return parts

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if not self.unbuilt():
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


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
