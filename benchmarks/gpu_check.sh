#!/usr/bin/env bash
# The GeNN engine on a GPU machine: checks that pygenn imports with its CUDA backend (or installs
# the pygenn wheel whose path is given), runs the cross-engine tests on GENN_BACKEND=cuda and the
# engine benchmark, and prints seconds per SHD-shaped epoch and the peak device memory.
#
#   benchmarks/gpu_check.sh [PATH/TO/pygenn-*.whl]
#
# GeNN is never built or vendored in this repository: build the wheel from GeNN's source as
# GeNN's installation guide says (CUDA_PATH set, `pip wheel .` in the GeNN folder), on a machine
# with the CUDA toolkit, and pass its path here.  Run from the repository root, in the Python
# environment that has this project's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ge 1 ]; then
    python -m pip install "$1"
fi
python - <<'PY'
import importlib.util, sys
try:
    import pygenn
except Exception as exc:
    sys.exit(f"gpu_check: pygenn does not import ({exc}); pass the path of a pygenn wheel")
if importlib.util.find_spec("pygenn.cuda_backend") is None:
    sys.exit("gpu_check: this pygenn has no CUDA backend; build GeNN with CUDA_PATH set")
print(f"gpu_check: pygenn {pygenn.__version__} with the CUDA backend")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== cross-engine tests on cuda"
EVENTPROP_GENN_TEST_BACKEND=cuda python -m pytest -q -rs tests/test_genn_engine.py \
    tests/test_engine_contract.py

echo "== eventprop bench engine --engine genn (cuda)"
python -m eventprop.cli bench engine --engine genn --backend cuda --batches 8 --recurrent \
    --interleaved
