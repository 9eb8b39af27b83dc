"""Helpers that make a `train_step` give the same numbers on one device and on many replicas.

Keras sums the gradients of all replicas, so each replica must average its per-example losses
over the GLOBAL batch (`tf.nn.compute_average_loss` does this when every replica holds the same
number of examples; these helpers also handle the uneven split of a partial last batch). Random
draws are made per example of the global batch, so a replica takes exactly the draws a single
device would take for the same examples.
"""

import contextlib
import threading

import tensorflow as tf

from tfgen import _keras_compat

# One named generator, so CPU and GPU kernels draw the same numbers ("auto_select" may differ
# between devices). XLA implements it differently: with jit_compile the draws change.
RNG = "philox"


def _replica_context():
    # The default strategy has a replica context too; its collectives are the identity.
    return tf.distribute.get_replica_context()


# The batch position of the step being traced in this thread (`known_batch_position`).
_KNOWN = threading.local()


@contextlib.contextmanager
def known_batch_position(local_batch_size):
    """Within: `global_batch_size` and `replica_offset` answer without collectives.

    Both are computed once on entry, from one all-gather of the replicas' sizes, and every
    later call in the block, for a batch of the same `local_batch_size` (the step's real or
    generated images), returns them. Code compiled per replica by XLA
    (`tf.function(jit_compile=True)` inside `strategy.run`) may then draw per-example random
    numbers: XLA compiles no collective of another replica (and has no CPU kernel for
    `CollectiveGatherV2`). Yields the global batch size. Per thread, as `MirroredStrategy`
    traces each replica in its own.
    """
    sizes = _replica_sizes(local_batch_size)
    total = tf.reduce_sum(sizes)
    offset = tf.reduce_sum(sizes[: _replica_context().replica_id_in_sync_group])
    previous = getattr(_KNOWN, "position", None)
    _KNOWN.position = (total, offset)
    try:
        yield total
    finally:
        _KNOWN.position = previous


def global_batch_size(local_batch_size):
    """The number of examples in this step over all replicas (exact for uneven splits)."""
    known = getattr(_KNOWN, "position", None)
    if known is not None:
        return known[0]
    local = tf.cast(local_batch_size, tf.int32)
    return _replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local)


def replica_offset(local_batch_size):
    """Index of this replica's first example within the global batch.

    `experimental_distribute_dataset` hands replica i the i-th contiguous slice of each global
    batch, so the offset is the number of examples held by the replicas before this one.
    """
    known = getattr(_KNOWN, "position", None)
    if known is not None:
        return known[1]
    sizes = _replica_sizes(local_batch_size)
    return tf.reduce_sum(sizes[: _replica_context().replica_id_in_sync_group])


def _replica_sizes(local_batch_size):
    """Every replica's number of examples, in replica order (one all-gather)."""
    local = tf.reshape(tf.cast(local_batch_size, tf.int32), [1])
    return _replica_context().all_gather(local, axis=0)


def average_over_global_batch(per_example, global_batch):
    """Sum of per-example losses over the global batch size, for gradients that Keras sums."""
    return tf.reduce_sum(per_example) / tf.cast(global_batch, per_example.dtype)


def per_example_normal(shape, local_batch_size, seed):
    """Standard-normal draws for this replica's examples, equal to a single device's draws.

    The draws for the whole global batch come from one stateless seed (two int32/int64 values),
    and each replica keeps its own rows: the global batch is small next to a training step, and
    every example gets the same vector whatever the number of replicas.
    """
    total = global_batch_size(local_batch_size)
    offset = replica_offset(local_batch_size)
    draws = tf.random.stateless_normal(tf.concat([[total], shape], axis=0), seed=seed, alg=RNG)
    return draws[offset : offset + tf.cast(local_batch_size, tf.int32)]


def per_example_uniform(shape, local_batch_size, seed):
    """Uniform [0, 1) draws for this replica's examples (as `per_example_normal`)."""
    total = global_batch_size(local_batch_size)
    offset = replica_offset(local_batch_size)
    draws = tf.random.stateless_uniform(tf.concat([[total], shape], axis=0), seed=seed, alg=RNG)
    return draws[offset : offset + tf.cast(local_batch_size, tf.int32)]


def uniform_integers(draws, count):
    """Integers uniform in [0, count) from uniform [0, 1) draws (e.g. `per_example_uniform`'s)."""
    return tf.minimum(tf.cast(tf.floor(draws * count), tf.int32), count - 1)


def sync_update(pairs, update_fn):
    """Runs `update_fn(target, source)` on every replica's copy, from replica context.

    Mirrored variables without an aggregation cannot be assigned in replica context; this does
    what an optimizer does: a merge call, then one `extended.update` per target variable, with
    each replica's copy of `source` handed to the update on that replica.
    """

    def merge(strategy, pairs):
        for target, source in pairs:
            strategy.extended.update(target, update_fn, args=(source,), group=False)

    _replica_context().merge_call(merge, args=(pairs,))


def step_logs(metrics, strategy):
    """The values a `train_step` returns: each metric's result.

    Keras reduces the step outputs of a multi-worker strategy with `strategy.reduce(..., axis=0)`
    (`reduce_per_replica` in keras/src/backend/tensorflow/trainer.py), which fails on scalars,
    so there each result travels as a vector of one value.
    """
    logs = {metric.name: metric.result() for metric in metrics}
    if _keras_compat.in_multi_worker_mode(strategy):
        logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


def is_replicated(strategy):
    """Whether `strategy` is an explicit `tf.distribute` strategy, not TensorFlow's default."""
    try:
        return bool(strategy.extended.worker_devices)
    except RuntimeError:  # The default strategy has no devices of its own.
        return False


def synchronizes(network):
    """Whether `network` or a layer nested in it (through `.layers`) communicates across
    replicas when called: a `BatchNormalization(synchronized=True)` (Keras' or tfgen's, which
    tfgen's builders make under a strategy), which all-reduces its batch moments."""
    if getattr(network, "synchronized", False):
        return True
    return any(synchronizes(layer) for layer in getattr(network, "layers", None) or ())


def check_strategy(strategy):
    """Raises a ValueError before training when `strategy` cannot train a tfgen model here.

    A `TPUStrategy` needs a TPU (`tfgen.runs.make_strategy("tpu")` says when none answers);
    any other strategy must name devices this machine has: TensorFlow would otherwise place
    a `OneDeviceStrategy("/gpu:0")` on the CPU without a word.
    """
    if isinstance(strategy, tf.distribute.TPUStrategy) and not tf.config.list_logical_devices(
        "TPU"
    ):
        raise ValueError(
            "the model's distribution strategy is a TPUStrategy, but this machine has no TPU "
            "device: create the model under a strategy of the devices it has (strategy="
            "'default' or 'mirrored')"
        )
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # The default strategy: the devices TensorFlow places ops on.
        return
    local = {
        (device.device_type, tf.DeviceSpec.from_string(device.name).device_index or 0)
        for device in tf.config.list_logical_devices()
    }
    for name in devices:
        spec = tf.DeviceSpec.from_string(name)
        if (spec.device_type, spec.device_index or 0) not in local:
            available = ", ".join(sorted(f"{kind}:{index}" for kind, index in local))
            raise ValueError(
                f"the model's distribution strategy ({type(strategy).__name__}) places it on "
                f"{name}, a device this machine does not have (it has {available}): create "
                "the strategy on one of these"
            )


def check_array_batches(num_examples, batch_size, replicas):
    """Raises a ValueError when in-memory training data would split unevenly over replicas.

    `fit` on arrays batches them with the last batch partial (drop_remainder off); on
    `replicas` replicas each global batch is split among them, and a batch holding fewer
    examples than replicas leaves one without any, where TensorFlow's CPU convolutions fail.
    So the global batch must be a multiple of the replicas, and so must the last one.
    """
    if replicas <= 1:
        return
    last = num_examples % batch_size
    if batch_size % replicas or last % replicas:
        raise ValueError(
            f"batch_size={batch_size} does not split over the {replicas} replicas of the "
            f"model's strategy: fit on arrays splits each global batch among the replicas, "
            f"the last, partial one ({last} of the {num_examples} examples) too; pass a "
            f"batch_size that is a multiple of {replicas}, with a number of examples whose "
            f"remainder is too, or a dataset batched with drop_remainder=True"
        )
