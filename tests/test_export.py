"""Tests of tfgen.export: SavedModels that serve without tfgen and match the in-memory models."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import export
from tfgen.architectures import conv_decoder, conv_encoder, dcgan_discriminator, dcgan_generator
from tfgen.models import GAN
from tfgen.models.autoencoder import Autoencoder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Loads SavedModels in a Python where `import tfgen` fails, runs every signature on the inputs
# saved by the test and writes the outputs back. Arguments: a JSON file of jobs.
LOADER = textwrap.dedent(
    """
    import sys
    sys.modules["tfgen"] = None  # tfgen is installed (editable): hide it.
    import json
    import numpy as np
    import tensorflow as tf
    try:
        import tfgen  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("tfgen was importable")
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        served = tf.saved_model.load(job["path"])
        out = {"signatures": sorted(served.signatures)}
        for name, inputs in job["calls"].items():
            signature = served.signatures[name]
            kwargs = {}
            for key, (value, dtype) in inputs.items():
                value = np.load(value) if isinstance(value, str) else value
                kwargs[key] = tf.constant(value, dtype)
            for key, value in signature(**kwargs).items():
                out[name + "/" + key] = value.numpy().tolist()
        json.dump(out, open(job["output"], "w"))
    print("loaded", len(jobs))
    """
)


def environment_without_repo():
    """The current environment with the repository taken off PYTHONPATH."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [p for p in paths if os.path.abspath(p) != REPO]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def start_loader(jobs, workdir):
    """Starts the tfgen-free loader on `jobs` in `workdir`; returns the process."""
    jobs_file = os.path.join(workdir, "jobs.json")
    with open(jobs_file, "w") as file:
        json.dump(jobs, file)
    return subprocess.Popen(
        [sys.executable, "-c", LOADER, jobs_file],
        cwd=workdir,
        env=environment_without_repo(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def saved_model_cli_command():
    executable = shutil.which("saved_model_cli")
    if executable:
        return [executable]
    return [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def start_saved_model_cli(path, workdir):
    return subprocess.Popen(
        [*saved_model_cli_command(), "show", "--all", "--dir", path],
        cwd=workdir,
        env=environment_without_repo(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process, timeout=240):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"exit {process.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    return out


def _unit(images):
    return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    gan = GAN(
        dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4),
        dcgan_discriminator((8, 8, 1), base_filters=4),
        seed=0,
    )
    gan.compile(generator_ema=0.9)
    # Make the moving average differ from the generator, as after training (the shift moves
    # the batch norms' offsets, which scaling alone mostly normalises away).
    gan.ema_generator.set_weights([w * 1.5 + 0.1 for w in gan.generator.get_weights()])
    vae = Autoencoder(
        conv_encoder((8, 8, 3), 5, variational=True, base_filters=4),
        conv_decoder(5, (8, 8, 3), base_filters=4),
        variational=True,
        seed=0,
    )
    return gan, vae


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """Both exports, with the tfgen-free loader and saved_model_cli started on them at once."""
    gan, vae = models
    root = tmp_path_factory.mktemp("exports")
    gan_path = export.export_generator(gan, root / "gan")
    vae_path = export.export_decoder(vae, root / "vae")
    rng = np.random.default_rng(0)
    z_gan = rng.normal(size=(3, 4)).astype(np.float32)
    z_vae = rng.normal(size=(2, 5)).astype(np.float32)
    images = rng.uniform(0, 1, size=(2, 8, 8, 3)).astype(np.float32)
    for name, array in (("z_gan", z_gan), ("z_vae", z_vae), ("images", images)):
        np.save(root / f"{name}.npy", array)
    jobs = [
        {
            "path": gan_path,
            "output": str(root / "gan.json"),
            "calls": {
                "serving_default": {"z": [str(root / "z_gan.npy"), "float32"]},
                "sample": {"batch_size": [5, "int32"], "seed": [7, "int64"]},
            },
        },
        {
            "path": vae_path,
            "output": str(root / "vae.json"),
            "calls": {
                "serving_default": {"z": [str(root / "z_vae.npy"), "float32"]},
                "encode": {"images": [str(root / "images.npy"), "float32"]},
                "reconstruct": {"images": [str(root / "images.npy"), "float32"]},
                "sample": {"batch_size": [3, "int32"], "seed": [11, "int64"]},
            },
        },
    ]
    loader = start_loader(jobs, str(root))
    cli = start_saved_model_cli(gan_path, str(root))
    loader_out, cli_out = finish(loader), finish(cli)
    served = {name: json.load(open(root / f"{name}.json")) for name in ("gan", "vae")}
    return dict(
        root=root,
        gan_path=gan_path,
        served=served,
        loader_out=loader_out,
        cli_out=cli_out,
        inputs=dict(z_gan=z_gan, z_vae=z_vae, images=images),
    )


def test_generator_export_serves_without_tfgen(models, exported):
    gan, _ = models
    served = exported["served"]["gan"]
    assert "loaded 2" in exported["loader_out"]
    assert served["signatures"] == ["sample", "serving_default"]
    images = np.asarray(served["serving_default/images"], np.float32)
    z = exported["inputs"]["z_gan"]
    assert images.shape == (3, 8, 8, 1)
    # The moving-average generator, in inference mode, mapped to [0, 1].
    np.testing.assert_allclose(images, _unit(gan.ema_generator(z, training=False)), atol=1e-5)
    assert np.abs(images - _unit(gan.generator(z, training=False))).max() > 1e-3
    sampled = np.asarray(served["sample/images"], np.float32)
    assert sampled.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(sampled, gan.generate(5, seed=7), atol=1e-5)


def test_load_generator_reads_the_export_and_the_keras_file(models, exported, tmp_path):
    gan, _ = models
    z = exported["inputs"]["z_gan"]
    expected = gan.ema_generator(z, training=False)  # in [-1, 1], as the models use it
    with pytest.raises(
        ValueError, match="is a SavedModel and a SavedModel is a TensorFlow program"
    ):
        export.load_generator(exported["gan_path"])  # Not without the user's trust.
    from_export = export.load_generator(exported["gan_path"], trust_saved_model=True)
    np.testing.assert_allclose(from_export(z), np.clip(expected, -1, 1), atol=1e-5)
    gan.save(tmp_path / "gan.keras")
    from_file = export.load_generator(str(tmp_path / "gan.keras"))
    np.testing.assert_allclose(from_file(z, training=False), expected, atol=1e-5)
    with pytest.raises(ValueError, match="must be a .keras file or a SavedModel"):
        export.load_generator(str(tmp_path))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_keras_file_is_refused_not_loaded(models, tmp_path, damage):
    gan, _ = models
    path = tmp_path / "gan.keras"
    gan.save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:  # One flipped bit in the weights, the archive's last member.
        data[len(data) * 3 // 4] ^= 0x10
    path.write_bytes(bytes(data))
    match = "is truncated or corrupt" if damage == "truncate" else "does not match its CRC-32"
    with pytest.raises(ValueError, match=f"{match}.*checkpoint.keras"):
        export.load_generator(str(path))


@pytest.mark.parametrize("damage", ["truncate the graph", "flip a variable bit"])
def test_a_damaged_export_is_refused_not_loaded(models, tmp_path, damage):
    gan, _ = models
    path = export.export_generator(gan, tmp_path / "served")
    if damage == "truncate the graph":
        target = os.path.join(path, "saved_model.pb")
    else:
        variables = os.path.join(path, "variables")
        target = os.path.join(variables, next(n for n in os.listdir(variables) if ".data-" in n))
    data = bytearray(open(target, "rb").read())
    if damage == "truncate the graph":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x10
    with open(target, "wb") as file:
        file.write(bytes(data))
    with pytest.raises(ValueError, match="is a truncated or corrupt SavedModel"):
        export.load_generator(path, trust_saved_model=True)


def test_decoder_export_serves_without_tfgen(models, exported):
    _, vae = models
    served = exported["served"]["vae"]
    assert served["signatures"] == ["encode", "reconstruct", "sample", "serving_default"]
    z, images = exported["inputs"]["z_vae"], exported["inputs"]["images"]
    decoded = np.asarray(served["serving_default/images"], np.float32)
    np.testing.assert_allclose(decoded, _unit(vae.decoder(z, training=False)), atol=1e-5)
    z_mean, z_log_var = vae.encoder(images * 2 - 1, training=False)
    np.testing.assert_allclose(served["encode/z"], z_mean, atol=1e-5)
    np.testing.assert_allclose(served["encode/z_log_var"], z_log_var, atol=1e-5)
    np.testing.assert_allclose(served["reconstruct/images"], _unit(vae(images * 2 - 1)), atol=1e-5)
    np.testing.assert_allclose(served["sample/images"], vae.sample(3, seed=11), atol=1e-5)


def test_saved_model_cli_lists_the_signatures(exported):
    out = exported["cli_out"]
    for line in (
        "signature_def['serving_default']:",
        "signature_def['sample']:",
        "inputs['z'] tensor_info:",
        "inputs['batch_size'] tensor_info:",
        "inputs['seed'] tensor_info:",
        "outputs['images'] tensor_info:",
        "shape: (-1, 8, 8, 1)",
        "dtype: DT_INT64",
    ):
        assert line in out, line


def _tree_digest(path):
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            full = os.path.join(folder, name)
            digest.update(os.path.relpath(full, path).encode())
            digest.update(open(full, "rb").read())
    return digest.hexdigest()


def test_a_failed_export_leaves_the_previous_one(models, tmp_path, monkeypatch):
    gan, _ = models
    path = export.export_generator(gan, tmp_path / "served")
    before = _tree_digest(path)
    real_save = tf.saved_model.save

    def failing_save(obj, export_dir, *args, **kwargs):
        real_save(obj, export_dir, *args, **kwargs)  # Write it all, then fail at the end.
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        export.export_generator(gan, path)
    monkeypatch.undo()
    assert _tree_digest(path) == before
    assert os.listdir(tmp_path) == ["served"]  # No staging directory left behind.
    z = np.ones((1, 4), np.float32)
    images = tf.saved_model.load(path).signatures["serving_default"](z=tf.constant(z))["images"]
    np.testing.assert_allclose(images, _unit(gan.sampling_generator(z)), atol=1e-5)


def test_a_new_export_replaces_the_previous_one(tmp_path):
    keras.utils.set_random_seed(1)
    generator = dcgan_generator((8, 8, 1), latent_dim=3, base_filters=2)
    z = np.ones((2, 3), np.float32)
    path = export.export_generator(generator, tmp_path / "g")
    first = tf.saved_model.load(path).signatures["serving_default"](z=tf.constant(z))["images"]
    generator.set_weights([w * 2.0 for w in generator.get_weights()])
    export.export_generator(generator, path)
    second = tf.saved_model.load(path).signatures["serving_default"](z=tf.constant(z))["images"]
    np.testing.assert_allclose(second, _unit(generator(z, training=False)), atol=1e-5)
    assert np.abs(np.asarray(first) - np.asarray(second)).max() > 1e-4
    assert os.listdir(tmp_path) == ["g"]


def test_plain_autoencoder_export_has_no_sample_signature(tmp_path):
    model = Autoencoder(
        conv_encoder((8, 8, 1), 3, base_filters=2), conv_decoder(3, (8, 8, 1), base_filters=2)
    )
    served = tf.saved_model.load(export.export_decoder(model, tmp_path / "ae"))
    assert sorted(served.signatures) == ["encode", "reconstruct", "serving_default"]
    images = np.full((1, 8, 8, 1), 0.25, np.float32)
    codes = served.signatures["encode"](images=tf.constant(images))
    assert sorted(codes) == ["z"]
    np.testing.assert_allclose(codes["z"], model.encoder(images * 2 - 1), atol=1e-5)


def test_export_refuses_unsafe_paths_and_bad_models(models, tmp_path):
    gan, vae = models
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="non-empty directory that holds no SavedModel"):
        export.export_generator(gan, tmp_path / "notes")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="got the file"):
        export.export_generator(gan, tmp_path / "file")
    with pytest.raises(ValueError, match="gan must hold a built keras.Model as generator"):
        export.export_generator(object(), tmp_path / "x")
    with pytest.raises(ValueError, match="autoencoder must hold a built keras.Model as decoder"):
        export.export_decoder(gan, tmp_path / "x")
    mismatched = type("Pair", (), {})()
    mismatched.decoder = vae.decoder
    mismatched.encoder = conv_encoder((8, 8, 3), 7, base_filters=2)
    with pytest.raises(ValueError, match="the encoder must take the decoder's images"):
        export.export_decoder(mismatched, tmp_path / "x")
    assert sorted(os.listdir(tmp_path)) == ["file", "notes"]
