#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint and run every test: unit tests on tiny generated data and
# the slow integration tests on the real Debian datasets and the real pretrained weights.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/python -m pytest -q "$@"
