#!/usr/bin/env bash
# Install everything the tests need into .venv (created if missing) and run the test suite.
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu scripts/test.sh   # CPU-only torch elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch first and pinned, so that the train extra finds it satisfied and never pulls another build.
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "${PIP[@]}" --index-url "$TORCH_INDEX_URL" "torch==${TORCH_VERSION:-2.13.0}"
else
  "${PIP[@]}" "torch==${TORCH_VERSION:-2.13.0}"
fi
"${PIP[@]}" -e ".[${DAEDALUS_RUNTIME:-cpu},dev]"
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy MPLBACKEND=Agg
exec "$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
