"""`jit_compile="auto"`: XLA or not, chosen by timing the first training steps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import architectures, runs
from tfgen.models import GAN, Autoencoder, _jit

STEPS_TO_DECIDE = _jit.STEPS_TO_DECIDE


def test_the_choice_is_a_function_of_the_timings():
    assert _jit.choose([0.04, 0.05, 0.04], [0.03, 0.02, 0.09]) is True
    assert _jit.choose([0.01, 0.02, 0.01], [0.03, 0.02, 0.02]) is False
    assert _jit.choose([0.02, 0.02], [0.02, 0.02]) is False  # a tie keeps TF's kernels
    # The lower quartile, so one slow step (a hiccup of the machine) does not decide, nor a
    # stretch of slow steps that hits one variant (its 4 last of 8 here).
    assert _jit.choose([0.05, 0.05, 0.05], [0.01, 0.01, 9.0]) is True
    fast_then_slow = [0.0145, 0.0144, 0.0145, 0.0144, 0.0251, 0.0244, 0.0236, 0.0244]
    steady = [0.0168, 0.0171, 0.0161, 0.0168, 0.0184, 0.0196, 0.0197, 0.0204]
    assert _jit.choose(steady, fast_then_slow) is True
    assert _jit.typical_seconds([4.0, 1.0, 3.0, 2.0, 5.0]) == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [[], [0.1, float("nan")], [-1.0]])
def test_bad_timings_are_refused(bad):
    with pytest.raises(ValueError, match="seconds_with"):
        _jit.choose([0.1], bad)


def tiny_gan(**compile_arguments):
    keras.utils.set_random_seed(0)
    gan = GAN(
        architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4),
        architectures.dcgan_discriminator((8, 8, 1), base_filters=4),
        seed=0,
    )
    gan.compile(**compile_arguments)
    return gan


def images(steps, batch=4):
    return np.random.default_rng(0).uniform(-1, 1, (steps * batch, 8, 8, 1)).astype("float32")


def test_auto_measures_both_variants_on_real_steps_and_keeps_its_choice(capsys):
    gan = tiny_gan()
    gan.fit(images(STEPS_TO_DECIDE + 3), batch_size=4, epochs=1, verbose=1)
    decision = gan.jit_decision
    check_measured_decision(gan, STEPS_TO_DECIDE + 3)
    printed = [line for line in capsys.readouterr().out.splitlines() if "jit_compile=" in line]
    assert len(printed) == 1
    assert f"{decision['ms_per_step_with']:.1f} ms/step with XLA" in printed[0]
    assert printed[0].endswith("using XLA." if decision["jit_compile"] else "TensorFlow kernels.")
    # Every measured step trained: none repeated, none lost.
    assert int(gan.noise_step.numpy()) == STEPS_TO_DECIDE + 3
    gan.fit(images(3), batch_size=4, epochs=1, verbose=0)
    assert gan.jit_decision is decision and int(gan.noise_step.numpy()) == STEPS_TO_DECIDE + 6


def test_a_fit_too_short_to_measure_stays_without_xla_and_undecided():
    gan = tiny_gan()
    gan.fit(images(STEPS_TO_DECIDE - 1), batch_size=4, epochs=1, verbose=0)
    assert gan.jit_decision is None and gan.jit_compile is False


@pytest.mark.parametrize("forced", [True, False])
def test_a_forced_value_is_not_measured(forced):
    gan = tiny_gan(jit_compile=forced)
    gan.fit(images(STEPS_TO_DECIDE), batch_size=4, epochs=1, verbose=0)
    assert gan.jit_decision is None and gan.jit_compile is forced


def check_measured_decision(model, steps):
    """The decision of a measured "auto": its keys, positive typical times, the faster kept."""
    decision = model.jit_decision
    assert set(decision) == {"jit_compile", "ms_per_step_without", "ms_per_step_with", "xla_error"}
    assert decision["xla_error"] is None
    without, with_xla = decision["ms_per_step_without"], decision["ms_per_step_with"]
    assert 0 < without < 60_000 and 0 < with_xla < 60_000
    assert decision["jit_compile"] is (with_xla < without)  # the faster; a tie keeps TF's
    assert model.jit_compile is decision["jit_compile"]
    # Read-only: Keras would otherwise track (and try to save) it.
    with pytest.raises(TypeError):
        decision["jit_compile"] = not decision["jit_compile"]


def test_the_autoencoder_chooses_too():
    keras.utils.set_random_seed(0)
    model = Autoencoder(
        architectures.conv_encoder((8, 8, 1), 4, base_filters=4),
        architectures.conv_decoder(4, (8, 8, 1), base_filters=4),
    )
    model.compile()
    model.fit(images(STEPS_TO_DECIDE), batch_size=4, epochs=1, verbose=0)
    check_measured_decision(model, STEPS_TO_DECIDE)


def test_the_measured_times_are_the_lower_quartiles_of_the_timed_steps(monkeypatch):
    """The chooser times its steps with `_jit._clock`; a fake clock gives XLA's steps
    2 ms and TensorFlow's 5 ms, so the decision must read 2 and 5 ms and keep XLA."""
    now = [0.0]

    def clock():
        return now[0]

    chooser_steps = []
    original_end = _jit.JitChooser.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        now[0] += 0.002 if self._variant else 0.005
        chooser_steps.append(self._variant)
        return original_end(self, batch, logs)

    monkeypatch.setattr(_jit, "_clock", clock)
    monkeypatch.setattr(_jit.JitChooser, "on_train_batch_end", on_train_batch_end)
    gan = tiny_gan()
    gan.fit(images(STEPS_TO_DECIDE), batch_size=4, epochs=1, verbose=0)
    assert gan.jit_decision["ms_per_step_with"] == pytest.approx(2.0)
    assert gan.jit_decision["ms_per_step_without"] == pytest.approx(5.0)
    assert gan.jit_decision["jit_compile"] is True and gan.jit_compile is True
    # Alternating: without XLA first, then with it, step after step.
    assert chooser_steps == [False, True] * (STEPS_TO_DECIDE // 2)


def test_auto_measures_the_autoencoder_under_a_strategy(two_replicas):
    """The autoencoder compiles its step's parts per replica, as the GAN does
    (tests/test_distributed_xla.py), so under a strategy "auto" measures them too."""
    keras.utils.set_random_seed(0)
    with two_replicas.scope():
        model = Autoencoder(
            architectures.conv_encoder((8, 8, 1), 4, base_filters=4),
            architectures.conv_decoder(4, (8, 8, 1), base_filters=4),
        )
        model.compile()
    assert _jit.measurable(model)
    model.fit(images(STEPS_TO_DECIDE, batch=8), batch_size=8, epochs=1, verbose=0)
    decision = model.jit_decision
    assert decision["xla_error"] is None
    faster = decision["ms_per_step_with"] < decision["ms_per_step_without"]
    assert decision["jit_compile"] is faster and model.jit_compile is faster


def test_deterministic_runs_pin_auto_to_false():
    assert runs.jit_setting("auto", deterministic=True) is False
    assert runs.jit_setting("true", deterministic=True) is True
    assert runs.jit_setting("auto") == "auto"


class AntialiasedResize(keras.layers.Layer):
    """Halves and restores the resolution with TensorFlow's antialiased resize, whose
    ScaleAndTranslate op has no XLA kernel."""

    def call(self, images):
        height, width = images.shape[1:3]
        half = tf.image.resize(images, [height // 2, width // 2], antialias=True)
        return tf.image.resize(half, [height, width], antialias=True)


def uncompilable_gan():
    """A GAN whose generator ends in AntialiasedResize: its step cannot compile under XLA."""
    keras.utils.set_random_seed(0)
    generator = architectures.dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4)
    generator = keras.Sequential([generator, AntialiasedResize()])
    discriminator = architectures.dcgan_discriminator((8, 8, 1), base_filters=4)
    return GAN(generator, discriminator, seed=0)


def test_the_uncompilable_step_really_fails_under_xla():
    gan = uncompilable_gan()
    gan.compile(jit_compile=True)
    with pytest.raises(tf.errors.OpError, match="ScaleAndTranslate"):
        gan.fit(images(1), batch_size=4, epochs=1, verbose=0)


def test_auto_keeps_tensorflow_kernels_when_xla_cannot_compile(capsys):
    gan = uncompilable_gan()
    gan.compile()
    steps = STEPS_TO_DECIDE + 2
    history = gan.fit(images(steps), batch_size=4, epochs=2, verbose=1)
    decision = gan.jit_decision
    assert decision["jit_compile"] is False and gan.jit_compile is False
    assert "ScaleAndTranslate" in decision["xla_error"]
    assert decision["ms_per_step_with"] is None and decision["ms_per_step_without"] is None
    lines = [line for line in capsys.readouterr().out.splitlines() if "jit_compile='auto'" in line]
    assert len(lines) == 1 and "XLA cannot compile" in lines[0]
    # No step lost: the batch of the failed compilation trained with TensorFlow's kernels.
    assert int(gan.noise_step.numpy()) == 2 * steps
    assert all(np.isfinite(history.history["d_loss"]))
    # The same steps as a run that never tried XLA.
    reference = uncompilable_gan()
    reference.compile(jit_compile=False)
    reference.fit(images(steps), batch_size=4, epochs=2, verbose=0)
    for got, want in zip(gan.weights, reference.weights):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_the_autoencoder_falls_back_too():
    keras.utils.set_random_seed(0)
    model = Autoencoder(
        architectures.conv_encoder((8, 8, 1), 4, base_filters=4),
        keras.Sequential(
            [architectures.conv_decoder(4, (8, 8, 1), base_filters=4), AntialiasedResize()]
        ),
    )
    model.compile()
    model.fit(images(STEPS_TO_DECIDE), batch_size=4, epochs=1, verbose=0)
    assert model.jit_decision["jit_compile"] is False
    assert "ScaleAndTranslate" in model.jit_decision["xla_error"]
