"""MultiWorkerMirroredStrategy: two local worker processes train like one device."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from gan_setup import digit_batches, make_gan

HERE = os.path.dirname(__file__)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_equal_one_device(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        env["CUDA_VISIBLE_DEVICES"] = ""
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(HERE, "multi_worker_gan.py"),
                    str(tmp_path / f"w{index}.npz"),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]

    gan = make_gan()
    gan.compile(gradient_penalty=("r1", 1.0))
    history = gan.fit(digit_batches(), epochs=1, verbose=0)
    expected = [w.numpy() for w in gan.weights]
    for index in range(2):
        result = np.load(tmp_path / f"w{index}.npz")
        weights = [result[f"arr_{i}"] for i in range(len(expected))]
        for got, want in zip(weights, expected):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result["d_loss"], history.history["d_loss"], rtol=1e-4)
