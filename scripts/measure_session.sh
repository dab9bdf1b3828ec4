#!/usr/bin/env bash
# Full power-measurement session on a GAP9 board (see docs/POWER.md): builds the app, starts the PPK2/Joulescope
# capture, flashes and runs the app with the GAP9 SDK (`make run platform=board`), then analyses the trace.
# Source the GAP9 SDK environment first. Example:
#   scripts/measure_session.sh --app-dir out/app --instrument ppk2 --voltage 1.8 --duration 30 \
#       --operating-point 370MHz/0.8V -o sessions/run1
set -euo pipefail
exec "${PYTHON:-python3}" -m tinymyo_edge power session "$@"
