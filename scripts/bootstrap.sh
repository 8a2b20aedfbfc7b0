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

# The real clients of the export tests (tests/test_clients.py): Debian's Chromium, three.js and
# playwright-core from npm (pinned in tools/web), and Blender as a Python module (PyPI bpy 5.0,
# which needs Python 3.11 and numpy < 2, hence its own venv). CI sets RELIGHT_REQUIRE_CLIENTS=1,
# so a client that fails to install fails the suite there instead of skipping.
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[bootstrap] installing chromium (headless, for the three.js viewer tests)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
            || echo "[bootstrap] note: could not install chromium; the browser tests will be skipped" >&2
    else
        echo "[bootstrap] note: no chromium; run 'sudo apt-get install -y chromium' for the browser tests" >&2
    fi
fi
if command -v npm >/dev/null && [ ! -d tools/web/node_modules/three ]; then
    echo "[bootstrap] installing three.js + playwright-core (tools/web)"
    (cd tools/web && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
        || echo "[bootstrap] note: could not install tools/web (npm); the viewer and its tests are left out" >&2
fi
BPY=bpy==5.0.1
if [ ! -f .venv-blender/.bpy-stamp ] || [ "$(cat .venv-blender/.bpy-stamp)" != "$BPY" ]; then
    if "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "[bootstrap] installing Blender as a module ($BPY, own venv .venv-blender, ~1 GB)"
        { [ -x .venv-blender/bin/python ] || "$PY" -m venv .venv-blender; } \
            && .venv-blender/bin/python -m pip install -q --disable-pip-version-check "$BPY" \
            && echo "$BPY" > .venv-blender/.bpy-stamp \
            || echo "[bootstrap] note: could not install $BPY; the Blender tests will be skipped" >&2
    else
        echo "[bootstrap] note: $BPY needs Python 3.11; the Blender tests will be skipped" >&2
    fi
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
