"""Every private Keras and TensorFlow hook tfgen uses, in this one module, pinned by one test.

Nothing else in tfgen touches a private Keras or TensorFlow name; `tests/test_keras_compat.py`
pins each hook listed here. The hooks are:

`ConjugateGradient` needs one beta from inner products over the gradients of ALL variables,
taken after Keras has clipped, averaged (gradient accumulation) and unscaled them and, under
`tf.distribute`, summed them across replicas, and before any variable changes. Keras' public
`update_step` sees one variable at a time. The method that sees all final gradients at once
is the private `_backend_update_step(grads, trainable_variables, learning_rate)`, which
`_backend_apply_gradients` calls and which the TensorFlow backend implements with
`_all_reduce_sum_gradients` and `_distributed_tf_update_step` (and TensorFlow's private
`maybe_merge_call`, with the optimizer's `_distribution_strategy`).

`WholeStepOptimizer` overrides that method, and nothing else private. `HOOKED_KERAS_METHODS`
lists what it replaces or relies on, with the hash of each method's source in every Keras
release of the range `setup.cfg` declares (`CHECKED_KERAS_RELEASES`);
`tests/test_keras_compat.py` fails when an installed Keras has another.

`BuiltModel` is the second hook. A model created under a `tf.distribute` strategy runs the
private `_maybe_symbolic_build` at the start of every `fit` and `evaluate`, which draws one
batch from a throwaway iterator of the training data to build what is not built yet. With a
model that is already built that draw builds nothing, but it is not free of effects: every
iterator of a shuffling `tf.data.Dataset` takes the next seed of the shuffle's one seed
generator, so the batches training then reads depend on how far the throwaway iterator read
(a resumed run's `data.repeat().skip(n)` reads across a reshuffle and takes a seed more than
an uninterrupted run's). `BuiltModel` skips it when there is nothing to build, the only case
in which `_symbolic_build` would do nothing; `HOOKED_MODEL_METHODS` pins both methods.

The smaller hooks, each one function here:
- `variable_index`: the position of a variable among those the optimizer was built with
  (`Optimizer._get_variable_index`, pinned as the methods above), where tfgen's optimizers
  keep its slots.
- `in_multi_worker_mode`: whether a strategy spans several workers
  (`strategy.extended._in_multi_worker_mode()`, which Keras' own callbacks use).
- `in_xla_context`: whether the function being traced will be compiled by XLA
  (`tf.function(jit_compile=True)`, Keras' `jit_compile=True`), which decides the faster form
  of batch normalisation (`tfgen.layers.BatchNormalization`). TensorFlow answers that only
  through the private `control_flow_util.GraphOrParentsInXlaContext`, which its own ops use
  for the same purpose; without it the answer is False (TensorFlow's kernels), which costs
  speed under XLA, never correctness.
"""

import hashlib
import inspect

import keras
import tensorflow as tf

try:
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
except ImportError:  # pragma: no cover - a TensorFlow without it; the pinning test fails instead
    GraphOrParentsInXlaContext = None

#: The Keras releases (latest patch of each minor release in setup.cfg's range) whose hooked
#: methods were read and hashed below. setup.cfg's range must not reach past them.
CHECKED_KERAS_RELEASES = ("3.10.0", "3.11.3", "3.12.4", "3.13.2", "3.14.1", "3.15.1")

# sha256 of `inspect.getsource` of each method, as `keras.optimizers.Optimizer` resolves it:
# every hash met in CHECKED_KERAS_RELEASES, each read to still do what the hook expects.
HOOKED_KERAS_METHODS = {
    # Replaced: must still be called with the final gradients of all variables.
    "_backend_update_step": ("00bd759c099a6b72e88785836a38006d3d197c329b14bf6e75b77339460d3bc3",),
    # The caller: clipping, weight decay, accumulation before it, EMA after it.
    "_backend_apply_gradients": (
        "48d6e24d580392413add1616a1bd8acdd4e7f3fe41db2f130d34d8093ef4757d",
    ),
    # Called: the cross-replica gradient sum of the TensorFlow backend (3.14 turned an assert
    # into a ValueError).
    "_all_reduce_sum_gradients": (
        "dd8896fa68d7950159af19848d8b41d0c5dbd0c90ae0d82361faab0a987702ba",  # 3.10-3.13
        "953512efa56c968002e3ddf9c13f593a893cad8770391ab6c7a1c001fde513b0",  # 3.14-3.15
    ),
    # Mirrored: how the TensorFlow backend updates each variable under tf.distribute.
    "_distributed_tf_update_step": (
        "ec83c95231ba33ee08aec21749ca92dff304cb6f77bdb21376621e183f513b20",
    ),
    # Called by `variable_index`: a variable's position in the optimizer's list.
    "_get_variable_index": ("c4cd541aea39e6e2a4c099d6d36b568d1e4361a7129c4504ab38a34e5cda8fd2",),
}


# The same, for the methods of `keras.Model` (TensorFlow backend) that `BuiltModel` relies on.
# 3.11 changed how both unpack the epoch iterator, 3.14 the error `_symbolic_build` raises.
HOOKED_MODEL_METHODS = {
    # Replaced when nothing is unbuilt: draws a batch from a throwaway iterator, then builds.
    "_maybe_symbolic_build": (
        "181752273e37d689f7dd4915f31a454130a3761290dc4b6d351465b85d4c6b81",  # 3.10
        "92a504f5eba9b29f81f1bf26180bdd5bf5186b06b7bda426534b90d2d02bc1c2",  # 3.11-3.15
    ),
    # What it builds: layers, compiled metrics and loss, the optimizer (`BuiltModel.unbuilt`).
    "_symbolic_build": (
        "330210b83242a6af0c29890c4d2ca75bba8187399727dc3eb70c37643a1b45ec",  # 3.10
        "9e2c2441c8d6829275d2fc040af8debfde105b5f94c00ac30e44c61e94cb7c6d",  # 3.11-3.13
        "96220cc3b88fe768bdafe5f6aabcf874b92940abae365f8f24e5df2a5e6ae49f",  # 3.14-3.15
    ),
}


def keras_method_source_hash(name, owner=None):
    """sha256 of the source of `<owner>.<name>` in the installed Keras (owner: Keras' optimizer
    class by default)."""
    source = inspect.getsource(getattr(owner or keras.optimizers.Optimizer, name))
    return hashlib.sha256(source.encode()).hexdigest()


def variable_index(optimizer, variable):
    """The position of `variable` among the variables `optimizer` was built with."""
    return optimizer._get_variable_index(variable)


def in_multi_worker_mode(strategy):
    """Whether `strategy` (a `tf.distribute.Strategy`) spans more than one worker."""
    return strategy.extended._in_multi_worker_mode()


def in_xla_context():
    """True while tracing a function (or a graph inside one) that XLA will compile."""
    if GraphOrParentsInXlaContext is None or tf.executing_eagerly():
        return False
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


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
