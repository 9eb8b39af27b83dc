"""Small variables updated together: one fused kernel over one flat buffer per dtype.

A fused kernel per variable (`ResourceApplyAdam`, `ResourceApplyMomentum`) costs a fixed
10-40 µs beside its arithmetic: the executor dispatching it, the step function passing its slot
variables in, the kernel splitting even a tiny update across the thread pool. Below about
32k elements that fixed cost is the larger part (`benchmarks/optimizer_step.py`; PyTorch's
multi-tensor `foreach` optimizers answer the same problem). So the slots of all small variables
of one dtype are one flat buffer, and a step runs the same fused kernel once over all of them:

```
g = concat(flatten(g_1), ..., flatten(g_k))     # the group's gradients, in a fixed order
s = 0;  kernel(s, slots, g)                     # the kernel's variable is a zero buffer: s = -step
w_i = w_i + s[offset_i : offset_i + n_i]        # = w_i - step_i
```

Every element goes through the same kernel arithmetic as with one kernel per variable, and
`0 - x` is exact and `w + (-x)` equals `w - x` in IEEE arithmetic, so the weights and slots are
bit-identical to the per-variable update (tests/test_optimizers.py checks it). What is saved is
unchanged too: `save_own_variables` writes one array per model variable and slot, in the order
and shapes of one slot variable per model variable, so files load across both layouts.

The price is memory traffic: the group's gradients are copied into one vector and its steps
out of the scratch buffer (one more buffer the size of the group, not saved), two passes over
memory that one kernel per variable does not make; on large variables they cost more than the
dispatch they save, so those keep one kernel each.

Keras calls `update_step` once per variable (and, under `tf.distribute`, once per device); the
group's gradients are collected there and the group is updated when its last variable with a
gradient arrives. A step in which some variable of a group has no gradient updates that group's
variables one by one with the plain rule (`tfgen.optimizers.rules`) on slices of the buffers.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfgen.optimizers import _fused

#: Variables with fewer elements than this are updated in flat groups, per fused kernel.
#: The thresholds come from `benchmarks/optimizer_step.py --threshold` (grouped against one
#: kernel per variable); the measured ratios are in BENCHMARKS.md ("What the flat groups do").
FLAT_MAX_SIZE = {"ResourceApplyAdam": 32768, "ResourceApplyMomentum": 4096}
#: A group of one saves nothing.
MIN_GROUP_SIZE = 2


class Group:
    """The small variables of one dtype: their positions, offsets and flat slot buffers."""

    def __init__(self, indices, shapes, dtype):
        self.indices = list(indices)  # positions among the optimizer's trainable variables
        self.shapes = [tuple(shape) for shape in shapes]
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        self.size = self.offsets[-1]
        self.dtype = dtype
        self.slots = {}  # slot name -> flat optimizer variable
        self.scratch = None  # the kernel's zero "variable", created beside the slots

    def __len__(self):
        return len(self.indices)


class FlatSlots:
    """An optimizer's slots: one variable per large variable, flat buffers for small ones.

    `kernel` names the fused kernel the optimizer runs (a key of `FLAT_MAX_SIZE`); `None`
    keeps one slot variable per model variable.

    `slot(name, index)` is the slot variable of a variable that is updated alone;
    `group_of(index)` the `(Group, position)` of one updated in a group.
    """

    def __init__(self, optimizer, variables, names, kernel=None):
        self.names = tuple(names)
        self.count = len(variables)
        self._per_variable = {name: [None] * self.count for name in self.names}
        self._group_of = {}
        self.groups = []
        small = {}
        for index, variable in enumerate(variables):
            if getattr(variable, "overwrite_with_gradient", False):
                continue  # Keras overwrites it with its gradient: no slots, as `add_slots`
            size = math.prod(variable.shape)
            if kernel and size < FLAT_MAX_SIZE[kernel]:
                small.setdefault(variable.dtype, []).append(index)
        for dtype, indices in small.items():
            if len(indices) >= MIN_GROUP_SIZE:
                group = Group(indices, [variables[i].shape for i in indices], dtype)
                for position, index in enumerate(indices):
                    self._group_of[index] = (group, position)
                self.groups.append(group)
        for index, variable in enumerate(variables):
            if index in self._group_of or getattr(variable, "overwrite_with_gradient", False):
                continue
            for name in self.names:
                self._per_variable[name][index] = optimizer.add_variable_from_reference(
                    variable, name=name
                )
        for number, group in enumerate(self.groups):
            for name in self.names:
                group.slots[name] = optimizer.add_variable(
                    (group.size,), dtype=group.dtype, name=f"{name}_flat{number}"
                )
            # Not an optimizer variable: it holds nothing between steps, so it is neither saved
            # nor listed in `optimizer.variables`.
            group.scratch = keras.Variable(
                "zeros",
                shape=(group.size,),
                dtype=group.dtype,
                trainable=False,
                name=f"{optimizer.name}_step_flat{number}",
            )
        self._pending = {}
        self._present = None

    def slot(self, name, index):
        return self._per_variable[name][index]

    def group_of(self, index):
        return self._group_of.get(index, (None, None))

    # Saving: one array per (model variable, slot name), interleaved as `add_slots` makes them.

    def arrays(self):
        """The slot values as one slot variable per model variable would hold them."""
        flat = {(id(g), name): g.slots[name].numpy() for g in self.groups for name in self.names}
        arrays = []
        for index in range(self.count):
            group, position = self.group_of(index)
            for name in self.names:
                if group is None:
                    slot = self.slot(name, index)
                    if slot is not None:
                        arrays.append(slot.numpy())
                    continue
                start, end = group.offsets[position], group.offsets[position + 1]
                arrays.append(flat[id(group), name][start:end].reshape(group.shapes[position]))
        return arrays

    def assign_arrays(self, arrays):
        """Sets the slots from `arrays`, in the order and shapes of `arrays()`."""
        arrays = iter(arrays)
        parts = {(id(g), name): [] for g in self.groups for name in self.names}
        for index in range(self.count):
            group, _ = self.group_of(index)
            for name in self.names:
                if group is not None:
                    parts[id(group), name].append(np.reshape(next(arrays), [-1]))
                elif self.slot(name, index) is not None:
                    self.slot(name, index).assign(next(arrays))
        for group in self.groups:
            for name in self.names:
                group.slots[name].assign(np.concatenate(parts[id(group), name]))

    def array_count(self):
        grouped = sum(len(g) for g in self.groups)
        alone = sum(slot is not None for slots in self._per_variable.values() for slot in slots)
        return alone + grouped * len(self.names)

    # Stepping.

    def begin_step(self):
        self._pending.clear()
        self._present = None

    def all_have_gradients(self, group, grads, variables, index_of):
        """Whether every variable of `group` has a gradient in this step, whose gradients are
        `grads` of `variables` (None: the variables the optimizer was built with, in order);
        `index_of(variable)` is a variable's position among those."""
        return self._present_count(group, grads, variables, index_of) == len(group)

    def collect(self, group, position, gradient, variable):
        """Adds one variable's gradient to its group's; once all are in, returns the group's
        `(gradients, variables)` in the group's order, else `None`."""
        # One collection per group, device (each replica's copy) and graph (a `tf.cond` branch).
        key = (id(group), variable.device, tf.compat.v1.get_default_graph())
        entries = self._pending.setdefault(key, {})
        entries[position] = (gradient, variable)
        if len(entries) < len(group):
            return None
        del self._pending[key]
        ordered = [entries[p] for p in range(len(group))]
        return [g for g, _ in ordered], [v for _, v in ordered]

    def finish_step(self):
        """Fails loudly if a group never received all its gradients (Keras changed its calls)."""
        pending, self._pending = self._pending, {}
        self._present = None
        if pending:
            raise RuntimeError(
                "tfgen: a group of small variables did not receive all its gradients in this "
                "step; Keras no longer calls `update_step` once per variable with a gradient."
            )

    def _present_count(self, group, grads, variables, index_of):
        # Keras skips the variables without a gradient; `update_step` sees only the others.
        if self._present is None:
            if variables is None:  # gradients in the order the optimizer was built with
                present = {i for i, g in enumerate(grads) if g is not None}
            else:
                present = {
                    index_of(v) for g, v in zip(grads, variables, strict=True) if g is not None
                }
            self._present = {id(g): sum(i in present for i in g.indices) for g in self.groups}
        return self._present[id(group)]


def flat_gradient(gradients):
    """The group's gradients as one vector, in the group's order."""
    return tf.concat([tf.reshape(g, [-1]) for g in gradients], 0)


def add_flat_step(group, variables, apply_kernel):
    """Runs `apply_kernel(scratch_handle)` on the zeroed scratch buffer (which then holds minus
    the step) and adds each variable's part of it to the variable."""
    scratch = _fused.resource_handle(group.scratch)
    tf.raw_ops.AssignVariableOp(resource=scratch, value=tf.zeros([group.size], group.dtype))
    apply_kernel(scratch)
    negative_step = tf.raw_ops.ReadVariableOp(resource=scratch, dtype=group.dtype)
    parts = tf.split(negative_step, group.sizes)
    for part, shape, variable in zip(parts, group.shapes, variables, strict=True):
        tf.raw_ops.AssignAddVariableOp(
            resource=_fused.resource_handle(variable), value=tf.reshape(part, shape)
        )


def read_slice(group, name, position):
    """One variable's part of a flat slot, in the variable's shape."""
    slot = _fused.resource_handle(group.slots[name])
    value = tf.raw_ops.ReadVariableOp(resource=slot, dtype=group.dtype)
    start, end = group.offsets[position], group.offsets[position + 1]
    return tf.reshape(value[start:end], group.shapes[position])


def write_slice(group, name, position, value):
    """Writes one variable's part of a flat slot."""
    start, end = group.offsets[position], group.offsets[position + 1]
    tf.raw_ops.ResourceStridedSliceAssign(
        ref=_fused.resource_handle(group.slots[name]),
        begin=[start],
        end=[end],
        strides=[1],
        value=tf.reshape(value, [-1]),
    )
