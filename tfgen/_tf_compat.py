"""The one private TensorFlow function tfgen calls, in one place, with a test that pins it.

Whether the function being traced will be compiled by XLA (`tf.function(jit_compile=True)`,
Keras' `jit_compile=True`) decides which form of batch normalisation is faster
(`tfgen.layers.BatchNormalization`). TensorFlow answers that only through the private
`control_flow_util.GraphOrParentsInXlaContext`, which its own ops use for the same purpose.
`tests/test_layers.py` checks its answers in eager code, a plain function and an XLA one, so
a TensorFlow that moves or changes it fails there loudly; here a missing function answers
False (TensorFlow's kernels), which costs speed under XLA, never correctness.
"""

import tensorflow as tf

try:
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
except ImportError:  # pragma: no cover - a TensorFlow without it; the test fails instead
    GraphOrParentsInXlaContext = None


def in_xla_context():
    """True while tracing a function (or a graph inside one) that XLA will compile."""
    if GraphOrParentsInXlaContext is None or tf.executing_eagerly():
        return False
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
