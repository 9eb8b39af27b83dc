"""What the tfgen optimizers share: argument checks, gradient preparation, per-step values, docs."""

import warnings

import keras
import tensorflow as tf
from keras import ops

from tfgen import _checks as checks
from tfgen import _keras_compat
from tfgen.optimizers import _flat, _fused, rules

# The keyword arguments every Keras optimizer accepts, documented once.
SHARED_ARGS_DOC = """maximize: Boolean. If `True`, the optimizer ascends the objective (gradient
            ascent), as PyTorch's `maximize`: the gradient's sign is flipped before the
            update, while weight decay still shrinks the weights. Defaults to `False`.
        name: String, the name of the optimizer; its variables are named after it.
        weight_decay: Float or `None`. If set, decoupled weight decay: Keras applies
            `w = w - learning_rate * weight_decay * w` before each step. Defaults to `None`.
        clipnorm: Float or `None`. If set, each variable's gradient is clipped to this norm.
        clipvalue: Float or `None`. If set, each gradient entry is clipped to
            `[-clipvalue, clipvalue]`.
        global_clipnorm: Float or `None`. If set, all gradients together are clipped to this
            global norm.
        use_ema: Boolean. If `True`, keeps an exponential moving average of the weights.
            Defaults to `False`.
        ema_momentum: Float, the moving average's momentum:
            `average = ema_momentum * average + (1 - ema_momentum) * w`. Defaults to `0.99`.
        ema_overwrite_frequency: Int or `None`. With `use_ema`, the weights are overwritten by
            their average every this many steps; with `None` only by
            `finalize_variable_values()` (which `fit` calls at its end). Defaults to `None`.
        loss_scale_factor: Float or `None`. If set, gradients are divided by it before the
            update (the loss was multiplied by it). Defaults to `None`.
        gradient_accumulation_steps: Int >= 2 or `None`. If set, the variables are updated
            every this many steps, with the average of the gradients since the last update.
            Schedules still count every step. Defaults to `None`.
        """


def fill_docstring(cls):
    """Splices the shared argument documentation into `cls.__doc__`."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("{{shared_args}}", SHARED_ARGS_DOC)
    return cls


def check_learning_rate(learning_rate):
    """Rejects a negative constant learning rate; schedules and callables pass through."""
    if checks.is_number(learning_rate):
        # Keras accepts only floats for a constant rate; `1` is as clear as `1.0`.
        return checks.number(learning_rate, "learning_rate", minimum=0)
    return learning_rate


def check_keras_arguments(kwargs):
    """The keyword arguments a tfgen optimizer passes on to `keras.optimizers.Optimizer`,
    checked (Keras takes most of them as they come: a negative or NaN `weight_decay` would grow
    the weights or turn them to NaN, a negative clip norm would flip the gradients).

    Returns a copy with numbers as floats; unknown names are left for Keras to refuse.
    """
    kwargs = dict(kwargs)
    for name in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor"):
        if name in kwargs:
            kwargs[name] = checks.number(
                kwargs[name],
                name,
                minimum=0.0,
                low_open=name != "weight_decay",
                optional=True,
                kind="a finite float",
            )
    if "use_ema" in kwargs:
        checks.boolean(kwargs["use_ema"], "use_ema")
    if "ema_momentum" in kwargs:
        kwargs["ema_momentum"] = checks.number(
            kwargs["ema_momentum"], "ema_momentum", 0, 1, high_open=True, kind="a float"
        )
    for name, minimum in (("ema_overwrite_frequency", 1), ("gradient_accumulation_steps", 2)):
        if name in kwargs:
            checks.integer(kwargs[name], name, minimum, checks.MAX_STEPS, optional=True)
    name = kwargs.get("name")
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ValueError(f"name must be None or a non-empty string without '/', got {name!r}")
    return kwargs


def prepare_gradient(gradient, variable, maximize):
    """The dense gradient, cast to the variable's dtype and oriented for descent.

    Sparse `IndexedSlices` gradients (from an `Embedding`) are densified: momentum and Adam decay
    every row of their state each step, so a row-wise (lazy) update would compute another
    algorithm.
    """
    if isinstance(gradient, tf.IndexedSlices):
        gradient = tf.convert_to_tensor(gradient)
    return rules.orient(ops.cast(gradient, variable.dtype), maximize)


class PerStep:
    """Values one step shares across its variables (casts, powers of the betas), made once.

    Keras calls `update_step` once per variable; with hundreds of small variables, recomputing
    these scalars for each costs more than the update itself. The first `update_step` of a step
    computes them, the others reuse them; `StepOptimizer.apply` empties the store around each
    step. Entries are kept per graph, so a value made inside one `tf.cond` branch (gradient
    accumulation) is never used outside it.
    """

    def __init__(self):
        self._values = {}
        # The step's (gradients, variables), as `apply` received them; kept here, not on the
        # optimizer, where Keras would track the variables as its own.
        self.inputs = None

    def clear(self):
        self._values.clear()
        self.inputs = None

    def get(self, key, compute):
        key = (key, tf.compat.v1.get_default_graph() if _fused.USE_FUSED_KERNELS else None)
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]


class StepOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose per-variable `update_step` reads per-step values from `per_step`
    and whose slots may hold small variables in flat groups (`tfgen.optimizers._flat`)."""

    def __init__(self, learning_rate, maximize, name, **kwargs):
        kwargs = check_keras_arguments(dict(kwargs, name=name))
        super().__init__(learning_rate=check_learning_rate(learning_rate), **kwargs)
        self.maximize = checks.boolean(maximize, "maximize")
        self.per_step = PerStep()
        self._slots = None

    def build_slots(self, variables, names, kernel=None):
        """Creates the slots `names` of `variables` (see `_flat.FlatSlots`) and remembers which
        optimizer variables come before them, for saving. `kernel` names the fused kernel the
        optimizer runs; small variables are grouped only when it runs fused kernels."""
        self._variables_before_slots = len(self.variables)
        kernel = kernel if _fused.USE_FUSED_KERNELS else None
        self._slots = _flat.FlatSlots(self, variables, names, kernel)
        self._variables_after_slots = len(self.variables)
        return self._slots

    def _update_through_group(self, index, gradient, variable, scalars):
        """Hands `variable` to its flat group, if it has one, and returns whether it did.

        The group runs `_update_group(group, gradients, variables, scalars)` once all its
        gradients are in; in a step where one of its variables has no gradient, each of the
        others runs `_update_in_group(group, position, gradient, variable, scalars)`.
        """
        group, position = self._slots.group_of(index)
        if group is None:
            return False
        if not self._slots.all_have_gradients(group, *self.per_step.inputs, self._variable_index):
            self._update_in_group(group, position, gradient, variable, scalars)
        elif ready := self._slots.collect(group, position, gradient, variable):
            self._update_group(group, *ready, scalars)
        return True

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if trainable_variables is not None:
            trainable_variables = list(trainable_variables)
        self.per_step.clear()
        self.per_step.inputs = (grads, trainable_variables)
        if self._slots is not None:
            self._slots.begin_step()
        try:
            result = super().apply(grads, trainable_variables)
            if self._slots is not None:
                self._slots.finish_step()
            return result
        finally:
            self.per_step.clear()

    def _variable_index(self, variable):
        return _keras_compat.variable_index(self, variable)

    def get_config(self):
        config = super().get_config()
        config["maximize"] = self.maximize
        return config

    # Saved as one slot variable per model variable, whichever layout holds them in memory.

    def _saved_layout(self):
        if self._slots is None or not self._slots.groups:
            return None
        variables = self.variables
        before = variables[: self._variables_before_slots]
        after = variables[self._variables_after_slots :]
        return before, after

    def save_own_variables(self, store):
        layout = self._saved_layout()
        if layout is None:
            return super().save_own_variables(store)
        before, after = layout
        arrays = [v.numpy() for v in before] + self._slots.arrays() + [v.numpy() for v in after]
        for i, array in enumerate(arrays):
            store[str(i)] = array

    def load_own_variables(self, store):
        layout = self._saved_layout()
        if layout is None:
            return super().load_own_variables(store)
        before, after = layout
        count = len(before) + self._slots.array_count() + len(after)
        if len(store.keys()) != count:
            # As Keras' own optimizers do.
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}', because it has "
                f"{count} variables whereas the saved optimizer has {len(store.keys())} "
                "variables. ",
                stacklevel=2,
            )
            return
        arrays = [store[str(i)] for i in range(count)]
        slots_end = count - len(after)
        for variable, array in zip(before, arrays[: len(before)], strict=True):
            variable.assign(array)
        self._slots.assign_arrays(arrays[len(before) : slots_end])
        for variable, array in zip(after, arrays[slots_end:], strict=True):
            variable.assign(array)


def add_slots(optimizer, variables, *names):
    """One optimizer variable per model variable and name, zero-initialised: a list per name.

    Made as Keras' `add_optimizer_variables` (Keras >= 3.10) makes them, with the public
    `add_variable_from_reference` of every Keras 3: interleaved per model variable (the order
    in which `save_own_variables` saves them) and `None` for a variable that Keras overwrites
    with its gradient.
    """
    slots = tuple([] for _ in names)
    for variable in variables:
        overwritten = getattr(variable, "overwrite_with_gradient", False)
        for name, slot in zip(names, slots, strict=True):
            slot.append(
                None if overwritten else optimizer.add_variable_from_reference(variable, name=name)
            )
    return slots
