#!/usr/bin/env bash
# The declared dependency floor, tried: installs the minimum TensorFlow and Keras that setup.cfg
# declares (their lowest minor release, latest patch) with tfgen's other dependencies into a fresh
# virtual environment and runs the pinning test of private Keras/TensorFlow API
# (tests/test_keras_compat.py), the old-file test and the optimizer and GAN tests against this
# checkout. .ci/dependency_ceiling.sh checks the other end of the declared range.
# Not part of the default test run: it downloads about 600 MB once.
#
#   .ci/dependency_floor.sh                  # venv in /tmp/tfgen-floor (kept for reruns)
#   VENV=/path/to/venv .ci/dependency_floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${VENV:-/tmp/tfgen-floor}
floor() { sed -n "s/^ *$1>=\([0-9.]*\).*/\1/p" setup.cfg; }
TF_MIN=$(floor tensorflow)
KERAS_MIN=$(floor keras)
echo "setup.cfg declares tensorflow>=$TF_MIN, keras>=$KERAS_MIN"
[ -x "$VENV/bin/python" ] || python -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "tensorflow==$TF_MIN.*" tensorflow-datasets importlib-resources \
    absl-py tensorboard matplotlib scikit-learn pillow pytest scipy
"$VENV/bin/pip" install -q "keras==$KERAS_MIN.*"
# TensorFlow 2.16 needs protobuf < 5; tensorflow-metadata >= 1.17 (from tensorflow-datasets)
# imports protobuf 5's runtime_version without declaring it.
"$VENV/bin/pip" install -q "tensorflow-metadata<1.17"
"$VENV/bin/python" -c "import tensorflow as tf, keras; print('tensorflow', tf.__version__, 'keras', keras.__version__)"
cd "$REPO"
PYTHONPATH="$REPO" "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" \
    tests/test_keras_compat.py tests/test_old_models.py tests/test_optimizers.py tests/test_gan.py
