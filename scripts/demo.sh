#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the main job end to end on the embedded default dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pictext demo "$@"
