#!/usr/bin/env bash
# Build the documentation, run the docstring and documentation examples, and execute every
# notebook at the small size. Exits non-zero on any failure; Sphinx warnings (including broken
# cross-references) are errors.
#
# Needs the docs extra:  pip install "torch==2.13.0" -e ".[docs]"
# Usage:                 bash docs/build.sh [output directory, default docs/_build/html]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/_build/html}"
export POLARLAB_NOTEBOOK_SIZE="${POLARLAB_NOTEBOOK_SIZE:-small}"
# The notebook kernel must keep its inline backend, or figures never reach the pages.
unset MPLBACKEND

echo "+ docstring examples"
python -m pytest -q --doctest-modules polarlab -p no:cacheprovider

echo "+ examples in the documentation pages"
python -m pytest -q --doctest-glob='*.md' docs/getting-started.md docs/howto \
    -p no:cacheprovider

echo "+ sphinx-build (executes the notebooks; -W: warnings are errors, -n: nitpicky references)"
python -m sphinx -b html -W --keep-going -n -q -j 1 docs "$out"

echo "docs built in $out"
