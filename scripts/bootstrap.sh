#!/usr/bin/env bash
# Idempotent setup: system libLLVM >= 17 (for Mitsuba's llvm_ad_rgb), a .venv, the pinned
# CPU torch wheel first (so no CUDA build is ever pulled), then relight with its dev extras.
# A second run installs nothing (a stamp keyed on pyproject.toml + this script).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}

have_llvm() {
    ldconfig -p 2>/dev/null | grep -qE 'libLLVM(-|\.so\.)(1[7-9]|[2-9][0-9])' && return 0
    ls /usr/lib/llvm-{17,18,19,20,21}/lib/libLLVM*.so* >/dev/null 2>&1
}
if ! have_llvm; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[bootstrap] installing libllvm19 (Mitsuba's CPU backend needs LLVM >= 17)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q libllvm19 >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q libllvm19 >/dev/null; }
    else
        echo "[bootstrap] WARNING: no libLLVM >= 17 found; run 'sudo apt-get install -y libllvm19' (relight will refuse to render on CPU without it)" >&2
    fi
fi

# Optional: the Khronos glTF-Validator for the export tests (skipped there when absent).
if command -v npm >/dev/null && [ ! -d tools/gltf/node_modules/gltf-validator ]; then
    (cd tools/gltf && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
        || echo "[bootstrap] note: could not install gltf-validator (npm); its test will be skipped" >&2
fi

STAMP=.venv/.relight-stamp
WANT=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip install -q --disable-pip-version-check"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "[bootstrap] installing torch==2.13.0 (CPU wheel)"
    $PIP "torch==2.13.0"
fi
echo "[bootstrap] installing relight and its dependencies"
$PIP -e "$ROOT[dev]"
echo "$WANT" > "$STAMP"
echo "[bootstrap] done"
