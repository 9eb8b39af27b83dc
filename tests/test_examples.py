"""End-to-end tests of the example scripts, run in-process on the bundled digits at 8 x 8."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import keras
import matplotlib.image as mpimg
import numpy as np
import pytest
from absl import flags
from test_export import finish, start_loader

from tfgen import callbacks, runs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")

# Small enough to train in seconds; 8 x 8 images are the digits' own size.
TINY = dict(image_size=8, batch_size=8, latent_dim=4, base_filters=4, steps=2, verbose=0)
# Grid of 4 images of 8 x 8 pixels, enlarged 8 times, in 2 columns with 2-pixel padding, under
# a 28-pixel title: (28 + 2 * 64 + 3 * 2, 2 * 64 + 3 * 2).
GRID_OF_4 = (162, 134)


def load_example(name):
    """Imports examples/<name>.py as the module `name`."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


train_gan = load_example("train_gan")
train_reconstruction = load_example("train_reconstruction")
reconstruct = load_example("reconstruct")


def script_environment():
    """The environment a user runs the examples in: this tfgen, no logging settings of ours."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
    return env


# The one line TensorFlow may log in a quiet run, on CPUs where it uses oneDNN (its default on
# x86 with AVX-512 VNNI or newer): grappler's remapper fuses Conv2D + BiasAdd + LeakyRelu although
# the gradient's LeakyReluGrad reads that BiasAdd, so the pass gives up on that graph and says so.
# Harmless, and not worth silencing: turning the remapper off makes a GAN step about 1.2x slower
# (benchmarks/cpu_remapper.py), and filtering stderr could hide a real error.
REMAPPER_LINE = re.compile(
    r"E\d{4} [\d:.]+ +\d+ meta_optimizer\.cc:\d+\] remapper failed: INVALID_ARGUMENT: "
    r"Mutation::Apply error: fanout '[^']*/LeakyReluGrad' exist for missing node '[^']*/BiasAdd'\."
)


def log_lines(stderr):
    """The lines of a script's stderr other than TensorFlow's known remapper line."""
    return [line for line in stderr.splitlines() if not REMAPPER_LINE.fullmatch(line)]


def png_shape(path):
    return mpimg.imread(path).shape[:2]


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("gan")
    return train_gan.train(**TINY, epochs=2, samples=4, output_dir=str(output_dir))


@pytest.fixture(scope="module")
def denoise_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("denoise")
    return train_reconstruction.train(
        **TINY, task="denoise", epochs=1, samples=4, output_dir=str(output_dir)
    )


def test_gan_example_writes_every_output(gan_run):
    out = gan_run.output_dir
    samples = sorted(os.listdir(os.path.join(out, "samples")))
    assert samples == ["epoch_001.png", "epoch_002.png"]
    for name in samples:
        assert png_shape(os.path.join(out, "samples", name)) == GRID_OF_4
    # Five panels: losses, discriminator outputs, FID, KID, precision and recall.
    assert png_shape(os.path.join(out, "losses.png")) == (750, 800)
    scores = ["fid", "kid", "precision", "recall"]
    assert sorted(gan_run.history) == sorted(
        [
            "d_fake",
            "d_loss",
            "d_real",
            "g_loss",
            "kid_std",
            *scores,
            *(f"{s}_floor" for s in scores),
        ]
    )
    # Scored on the digits by default (--eval_every): a real distance, finite and positive.
    assert all(np.isfinite(v) and v > 0 for v in gan_run.history["fid"])
    assert all(len(v) == 2 and np.all(np.isfinite(v)) for v in gan_run.history.values())
    # A finished run deletes its backup and keeps the last good checkpoint.
    assert not os.path.exists(os.path.join(out, "backup"))
    assert os.path.exists(gan_run.checkpoint_path)
    with open(os.path.join(out, "config.json")) as file:
        assert json.load(file)["latent_dim"] == 4
    if callbacks.tensorboard_available():
        # Scalars from keras.callbacks.TensorBoard, sample grids from SampleGrid.
        for run in ("train", "samples"):
            assert any(f.startswith("events.out") for f in os.listdir(f"{out}/logs/{run}"))
    loaded = keras.saving.load_model(gan_run.model_path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.generate(3, seed=1), gan_run.model.generate(3, seed=1), atol=1e-6
    )


def test_reconstruction_example_writes_every_output(denoise_run):
    out = denoise_run.output_dir
    assert os.listdir(os.path.join(out, "samples")) == ["epoch_001.png"]
    # Three rows (clean, noisy, restored) of 4 images: 28 + 3 * 64 + 4 * 2 high, 4 * 64 + 5 * 2.
    assert png_shape(os.path.join(out, "samples", "epoch_001.png")) == (228, 266)
    assert png_shape(denoise_run.losses_plot) == (500, 800)
    # Validation on the held-out test split of the digits.
    assert {"loss", "psnr", "ssim", "val_loss", "val_psnr", "val_ssim"} <= set(denoise_run.history)
    loaded = keras.saving.load_model(denoise_run.model_path, safe_mode=True)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded(images), denoise_run.model(images), atol=1e-6)


@pytest.mark.parametrize("task", ["inpaint", "compress", "variational"])
def test_other_reconstruction_tasks(tmp_path, task):
    run = train_reconstruction.train(
        **TINY, task=task, epochs=1, samples=4, validation=False, output_dir=str(tmp_path)
    )
    grid = os.path.join(tmp_path, "samples", "epoch_001.png")
    # A VAE's grid holds 16 prior samples (4 x 4); the others 3 rows of 4 images.
    assert png_shape(grid) == ((28 + 266, 266) if task == "variational" else (228, 266))
    assert np.all(np.isfinite(run.history["loss"]))
    assert os.path.exists(os.path.join(run.saved_model_dir, "saved_model.pb"))
    loaded = keras.saving.load_model(run.model_path, safe_mode=True)
    assert loaded.variational is (task == "variational")


def test_exports_serve_without_tfgen(gan_run, denoise_run, tmp_path):
    z = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    images = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "images.npy", images)
    jobs = [
        {
            "path": gan_run.saved_model_dir,
            "output": str(tmp_path / "gan.json"),
            "calls": {"serving_default": {"z": [str(tmp_path / "z.npy"), "float32"]}},
        },
        {
            "path": denoise_run.saved_model_dir,
            "output": str(tmp_path / "denoise.json"),
            "calls": {"restore": {"images": [str(tmp_path / "images.npy"), "float32"]}},
        },
    ]
    assert "loaded 2" in finish(start_loader(jobs, str(tmp_path)))
    gan_served = json.load(open(tmp_path / "gan.json"))
    expected = np.clip((np.asarray(gan_run.model.sampling_generator(z)) + 1) / 2, 0, 1)
    np.testing.assert_allclose(gan_served["serving_default/images"], expected, atol=1e-5)
    denoise_served = json.load(open(tmp_path / "denoise.json"))
    assert denoise_served["signatures"] == ["restore", "serving_default"]
    expected = np.clip((np.asarray(denoise_run.model(images * 2 - 1)) + 1) / 2, 0, 1)
    np.testing.assert_allclose(denoise_served["restore/images"], expected, atol=1e-5)


class _Interrupt(keras.callbacks.Callback):
    """Stops the run like a crash at the start of epoch `at` (counted from 0)."""

    def __init__(self, at):
        super().__init__()
        self.at = at
        self.weights = None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            self.weights = [np.array(w) for w in self.model.weights]
            raise KeyboardInterrupt("simulated interruption")


class _WeightsAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [np.array(w) for w in self.model.weights]


def test_resume_continues_an_interrupted_run(tmp_path):
    settings = dict(TINY, steps=1, epochs=3, samples=4, output_dir=str(tmp_path))
    interrupt = _Interrupt(at=1)
    with pytest.raises(KeyboardInterrupt):
        train_gan.train(**settings, callbacks=[interrupt])
    assert os.path.isdir(tmp_path / "backup")
    assert os.listdir(tmp_path / "samples") == ["epoch_001.png"]

    with pytest.raises(ValueError, match="pass --resume to continue it, --overwrite"):
        train_gan.train(**settings)
    with pytest.raises(ValueError, match="latent_dim=4 -> 8"):
        train_gan.train(**dict(settings, latent_dim=8), resume=True)

    start = _WeightsAtStart()
    run = train_gan.train(**settings, resume=True, callbacks=[start])
    assert run.initial_epoch == 1
    # The resumed run starts from the weights (and optimizer state) of the interruption.
    assert len(start.weights) == len(interrupt.weights)
    for restored, saved in zip(start.weights, interrupt.weights):
        np.testing.assert_array_equal(restored, saved)
    assert sorted(os.listdir(tmp_path / "samples")) == [
        "epoch_001.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    # The loss history covers the whole run, before and after the interruption.
    assert all(len(values) == 3 for values in run.history.values())
    assert not os.path.exists(tmp_path / "backup")

    with pytest.raises(ValueError, match="finished"):
        train_gan.train(**settings, resume=True)
    run = train_gan.train(**dict(settings, epochs=1), overwrite=True)
    assert os.listdir(tmp_path / "samples") == ["epoch_001.png"]
    assert all(len(values) == 1 for values in run.history.values())


@pytest.mark.parametrize(
    "settings, match",
    [
        (
            dict(generator_optimizer="fancy"),
            r"generator_optimizer must be one of the tfgen optimizers nesterov, adam, "
            r"conjugate_gradient or a Keras optimizer name \(.*sgd.*\), got 'fancy'",
        ),
        (dict(discriminator_optimizer="nope"), "discriminator_optimizer must be one of"),
        (
            dict(loss="bogus"),
            "loss must be one of non_saturating, minimax, hinge, wasserstein, least_squares",
        ),
        (dict(strategy="cloud"), "strategy must be one of default, mirrored, multi_worker, tpu"),
        (dict(gradient_penalty="l2:1"), "gradient_penalty must be"),
        (dict(image_size=12), r"image_shape must be .*got \(12, 12, 1\)"),
        (dict(epochs=0), "epochs must be a positive int, got 0"),
        (dict(ema=1.0), r"generator_ema must be None or a float in \[0, 1\)"),
        (dict(jit_compile="maybe"), "jit_compile must be one of auto, true, false"),
        (dict(resume=True, overwrite=True), "resume and overwrite exclude each other"),
    ],
)
def test_gan_settings_are_checked_at_start(tmp_path, settings, match):
    with pytest.raises(ValueError, match=match):
        train_gan.train(**settings, output_dir=str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_unknown_dataset_fails_at_start(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset name='nope'.*'digits'"):
        train_gan.train(dataset="nope", output_dir=str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


class _PoisonAt(keras.callbacks.Callback):
    """Turns the generator's weights to NaN at the start of epoch `at` (counted from 0)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            for weight in self.model.generator.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, np.float32))


@pytest.mark.filterwarnings("ignore:Epoch 2. the model's images are not finite:RuntimeWarning")
def test_a_diverged_run_keeps_the_last_good_checkpoint(tmp_path, capsys):
    settings = dict(TINY, steps=2, epochs=3, samples=4, output_dir=str(tmp_path))
    with (
        pytest.raises(RuntimeError, match="at epoch 2, batch 0: training diverged"),
        pytest.warns(RuntimeWarning, match="not saving the checkpoint"),
    ):
        train_gan.train(**settings, callbacks=[_PoisonAt(1)])
    assert "terminating" in capsys.readouterr().out
    # The final model and the export are not written; the checkpoint holds epoch 1's model.
    assert not os.path.exists(tmp_path / "gan.keras")
    assert not os.path.exists(tmp_path / "saved_model")
    assert os.listdir(tmp_path / "samples") == ["epoch_001.png"]
    assert png_shape(tmp_path / "losses.png") == (750, 800)
    checkpoint = keras.saving.load_model(tmp_path / "checkpoint.keras", safe_mode=True)
    assert all(np.all(np.isfinite(w)) for w in checkpoint.get_weights())


def test_gan_example_on_two_replicas(tmp_path, two_replicas):
    run = train_gan.train(
        **dict(TINY, steps=1),
        epochs=1,
        samples=4,
        output_dir=str(tmp_path),
        distribute_strategy=two_replicas,
    )
    assert run.model.distribute_strategy is two_replicas
    assert png_shape(tmp_path / "samples" / "epoch_001.png") == GRID_OF_4
    assert os.path.exists(os.path.join(run.saved_model_dir, "saved_model.pb"))


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(task="colorize"), "task must be one of denoise, inpaint, compress, variational"),
        (dict(loss="l3"), "loss must be one of .*l1.*l2.*ssim.*got 'l3'"),
        (dict(optimizer="fancy"), "must be one of the tfgen optimizers"),
        (dict(noise_stddev=-1.0), r"stddev must be a number in \[0"),
        (dict(strategy="cloud"), "strategy must be one of"),
        (dict(kl_weight=-1.0), "kl_weight must be a number >= 0"),
    ],
)
def test_reconstruction_settings_are_checked_at_start(tmp_path, settings, match):
    with pytest.raises(ValueError, match=match):
        train_reconstruction.train(**settings, output_dir=str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_flags_parse_to_the_defaults_and_reject_unknown_values():
    for module in (train_gan, train_reconstruction, reconstruct):
        values = flags.FlagValues()
        runs.define_flags(module.Config, values)
        values(["prog"])
        assert runs.config_from_flags(values, module.Config) == module.Config()
        assert all(values[name].help for name in values)
    values = flags.FlagValues()
    runs.define_flags(train_gan.Config, values)
    with pytest.raises(flags.IllegalFlagValueError, match="default|mirrored|multi_worker|tpu"):
        values(["prog", "--strategy=cloud"])
    values(["prog", "--channels=3", "--g_lr=0.01", "--resume"])
    config = runs.config_from_flags(values, train_gan.Config)
    assert (config.channels, config.g_lr, config.resume) == (3, 0.01, True)
    # The reconstruction script keeps the shared help but its own defaults.
    values = flags.FlagValues()
    runs.define_flags(train_reconstruction.Config, values)
    assert (values["epochs"].default, values["output_dir"].default) == (20, "runs/reconstruction")
    assert values["epochs"].help == "Training epochs."


def test_reconstruct_example_inverts_the_trained_generator(gan_run, tmp_path):
    result = reconstruct.reconstruct(
        model=gan_run.model_path,
        count=3,
        steps=3,
        mask_fraction=0.3,
        output=str(tmp_path / "figure.png"),
    )
    # Rows of originals, known pixels and reconstructions, 3 images each, 64 pixels per image.
    assert png_shape(result.figure) == (28 + 3 * 64 + 4 * 2, 3 * 64 + 4 * 2)
    assert result.reconstructions.shape == (3, 8, 8, 1) and np.all(np.isfinite(result.errors))
    # Reconstructions are the generator's images of the codes found.
    assert result.function_evaluations >= 3


def test_reconstruct_example_reads_a_folder_through_the_export(gan_run, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):
        mpimg.imsave(folder / f"{i}.png", rng.uniform(size=(8, 8)), cmap="gray")
    result = reconstruct.reconstruct(
        model=gan_run.saved_model_dir,
        trust_saved_model=True,
        images=str(folder),
        count=2,
        steps=2,
        method="adam",
        output=str(tmp_path / "figure.png"),
    )
    assert png_shape(result.figure) == (28 + 2 * 64 + 3 * 2, 2 * 64 + 3 * 2)
    assert result.originals.shape == (2, 8, 8, 1)


def test_reconstruct_example_checks_its_settings(gan_run, tmp_path):
    with pytest.raises(ValueError, match="does not exist: train one first"):
        reconstruct.reconstruct(model=str(tmp_path / "missing.keras"))
    with pytest.raises(ValueError, match="must be a .keras file or a SavedModel directory"):
        reconstruct.reconstruct(model=str(tmp_path))
    with pytest.raises(ValueError, match="method must be one of .*conjugate_gradient"):
        reconstruct.reconstruct(model=gan_run.model_path, method="lbfgs", count=2)


@pytest.mark.slow
def test_train_gan_command_line(tmp_path):
    """The script as a user runs it: flags parsed by absl, a bad value rejected with the list."""
    script = os.path.join(EXAMPLES, "train_gan.py")
    env = script_environment()
    pipes = dict(env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    args = [f"--{k}={v}" for k, v in TINY.items() if k != "verbose"] + ["--epochs=1", "--samples=4"]
    # The refused flag and the tiny run, side by side: both mostly import TensorFlow.
    bad = subprocess.Popen([sys.executable, script, "--strategy=cloud"], **pipes)
    done = subprocess.Popen([sys.executable, script, *args, f"--output_dir={tmp_path}"], **pipes)
    bad_stderr = bad.communicate(timeout=300)[1]
    assert bad.returncode != 0 and "<default|mirrored|multi_worker|tpu>" in bad_stderr
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr[-3000:]
    assert "Training finished" in stdout and str(tmp_path) in stdout
    # Quiet: Keras' progress and the summary only, no log lines of TensorFlow or absl.
    assert log_lines(stderr) == []
    assert not re.search(r"^([IWE]\d{4} |INFO|WARNING)", stdout, re.M), stdout[:2000]
    assert png_shape(tmp_path / "samples" / "epoch_001.png") == GRID_OF_4
    again = subprocess.run(
        [sys.executable, script, *args, f"--output_dir={tmp_path}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 1 and "--overwrite" in again.stderr
