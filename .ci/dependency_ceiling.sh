#!/usr/bin/env bash
# The declared dependency ceiling, tried: installs the newest Keras that setup.cfg allows (below
# its `keras<X.Y` cap) and the newest TensorFlow, with tfgen's other dependencies, into a fresh
# virtual environment and runs the pinning test of private Keras/TensorFlow API
# (tests/test_keras_compat.py), the old-file test and the optimizer and GAN tests against this
# checkout. With .ci/dependency_floor.sh it checks both ends of the declared range.
# Not part of the default test run: it downloads about 600 MB once.
#
#   .ci/dependency_ceiling.sh                  # venv in /tmp/tfgen-ceiling (kept for reruns)
#   VENV=/path/to/venv .ci/dependency_ceiling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${VENV:-/tmp/tfgen-ceiling}
KERAS_SPEC=$(sed -n "s/^ *\(keras>=[0-9.]*,<[0-9.]*\).*/\1/p" setup.cfg)
TF_SPEC=$(sed -n "s/^ *\(tensorflow>=[0-9.]*\).*/\1/p" setup.cfg)
echo "setup.cfg declares $TF_SPEC, $KERAS_SPEC; installing the newest of each"
[ -x "$VENV/bin/python" ] || python -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q --upgrade "$TF_SPEC" tensorflow-datasets importlib-resources \
    absl-py tensorboard matplotlib scikit-learn pillow pytest scipy
"$VENV/bin/pip" install -q --upgrade "$KERAS_SPEC"
"$VENV/bin/python" -c "import tensorflow as tf, keras; print('tensorflow', tf.__version__, 'keras', keras.__version__)"
cd "$REPO"
PYTHONPATH="$REPO" "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" \
    tests/test_keras_compat.py tests/test_old_models.py tests/test_optimizers.py tests/test_gan.py
