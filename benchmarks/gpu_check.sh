#!/usr/bin/env bash
# The GPU check in one call (see benchmarks/gpu_check.py):
#   bash benchmarks/gpu_check.sh                      # CUDA: tests + benchmark, under 8 minutes
#   bash benchmarks/gpu_check.sh --out DIR            # results elsewhere than benchmarks/results
#   bash benchmarks/gpu_check.sh --device cpu --quick # the CPU wiring run that CI does
# Runs polarlab from this tree with the Python on PATH (or $PYTHON) and the torch it has (a
# CUDA build on a GPU machine; never installed here); installs the project's own dev extra
# only if one of its other dependencies is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$py" -c "import torch" 2>/dev/null; then
    echo "gpu_check: $py has no torch; name a Python that has one (a CUDA build on a GPU):" \
        "PYTHON=/path/to/python bash benchmarks/gpu_check.sh" >&2
    exit 2
fi
if ! "$py" -c "import numpy, scipy, mpmath, pytest, hypothesis" 2>/dev/null; then
    echo "gpu_check: installing the project's dev extra into $py (its torch is kept)" >&2
    "$py" -m pip install -q -e ".[dev]"
fi
"$py" -c "import torch; print('gpu_check: torch', torch.__version__, 'CUDA', torch.version.cuda)"
# a hard stop past the script's own 7-minute budget, so one stuck compile cannot eat the window
exec timeout 540 "$py" benchmarks/gpu_check.py "$@"
