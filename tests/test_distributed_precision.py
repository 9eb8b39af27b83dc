"""Mixed precision on two replicas (MirroredStrategy over two logical CPUs)."""

import keras
import numpy as np
import pytest
from gan_setup import digit_batches, make_gan

from tfgen import runs


@pytest.mark.parametrize("jit_compile", [False, True])
def test_mixed_precision_trains_on_two_replicas_and_its_loss_scale_works(two_replicas, jit_compile):
    with runs.dtype_policy(mixed_precision=True), two_replicas.scope():
        gan = make_gan(filters=4)
        # With XLA, the parts of each replica's step compile (the discriminator's: the
        # generator's synchronised batch norm keeps it with TensorFlow's kernels).
        gan.compile(jit_compile=jit_compile)
    optimizers = (gan.generator_optimizer, gan.discriminator_optimizer)
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers)
    history = gan.fit(digit_batches(count=64, batch=16), epochs=1, verbose=0)
    assert gan.jit_compile is jit_compile
    assert all(np.isfinite(values).all() for values in history.history.values())
    weights = [np.asarray(w) for w in gan.weights]
    assert all(np.isfinite(w).all() for w in weights)
    assert gan.generator.layers[1].compute_dtype == "float16"

    # A loss scale that overflows float16: the step's gradients are not finite, so neither
    # network moves and each scale halves (Keras' dynamic loss scaling), on both replicas.
    for optimizer in optimizers:
        optimizer.dynamic_scale.assign(2.0**100)
    gan.fit(digit_batches(count=16, batch=16), epochs=1, verbose=0)
    trained = gan.generator.trainable_weights + gan.discriminator.trainable_weights
    before = {id(w): value for w, value in zip(gan.weights, weights)}
    for variable in trained:
        np.testing.assert_array_equal(np.asarray(variable), before[id(variable)])
    for optimizer in optimizers:
        copies = {float(v.numpy()) for v in optimizer.dynamic_scale.value.values}
        assert copies == {2.0**99}
