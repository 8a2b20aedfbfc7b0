#!/bin/bash
# One GPU-machine call (Python 3.12 with torch and CUDA, no network): install the wheels carried in
# .whl (../shared/tools/gpu-wheels.sh, mitsuba slimmed), compile nvdiffrast once, then side by side:
# the CUDA tests + the cuda_ad_rgb/llvm_ad_rgb parity (against out/gpu/ref.npz, rendered on a CPU
# machine by `bench/bench_gpu.py ref`) and the quality-preset fits of OBJECTS at RES.
# Usage (device tool, carry .whl and out/gpu):  bash bench/bench_gpu.sh   -> $OUT/*.json, logs, pictures
set -u
OUT=${OUT:-out/gpu/run}; OBJECTS=${OBJECTS:-spot vase}; RES=${RES:-512}; DEADLINE=${DEADLINE:-545}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); T0=$(date +%s)  # DEADLINE: seconds the fits may run until
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD
# gpytoolbox imports the scs solver at import time for a function relight does not call; the
# wheel (with its BLAS) would not fit the 64 MiB that travels, so a stub stands in on this machine
[ -e /tmp/site/scs.py ] || echo "# stub (bench/bench_gpu.sh)" > /tmp/site/scs.py
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv -l 2 > "$OUT/smi.csv" & SMI=$!
{
  stamp "installed"
  python3 -c "import torch, mitsuba as mi, drjit as dr; mi.set_variant('cuda_ad_rgb'); \
print('mitsuba', mi.__version__, 'drjit', dr.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
  python3 -c "import torch; from relight.geometry.raster.nvdr import NvdiffrastRaster as R; r = R(); \
p = torch.tensor([[[-.5,-.5,0,1],[.5,-.5,0,1],[0,.5,0,1]]], device='cuda'); \
t = torch.tensor([[0,1,2]], dtype=torch.int32, device='cuda'); print('nvdiffrast ok', r.rasterize(p, t, (8, 8))[0][..., 3].sum().item())"
  stamp "nvdiffrast compiled"
} > "$OUT/checks.log" 2>&1
FITS=(); LIMIT=$(( DEADLINE - $(date +%s) + T0 ))
stamp "fits start, limit $LIMIT s" >> "$OUT/checks.log"
for o in $OBJECTS; do
  timeout "$LIMIT" python3 bench/bench_gpu.py fit "$o" --res "$RES" --root /tmp/relight_gpu --out "$OUT/$o.json" \
    > "/tmp/fit_$o.log" 2>&1 & FITS+=($!)
done
{
  timeout 200 python3 -m pytest -q -p no:cacheprovider -m cuda -k "not matches_cpu" \
    tests/test_raster.py tests/test_backend.py tests/test_synth.py
  stamp "cuda tests rc=$?"
  timeout 150 python3 bench/bench_gpu.py parity out/gpu/ref.npz "$OUT/parity.json"
  stamp "parity rc=$?"
} >> "$OUT/checks.log" 2>&1
for p in "${FITS[@]}"; do wait "$p"; stamp "fit pid $p rc=$?" >> "$OUT/checks.log"; done
for o in $OBJECTS; do sed "s/^/[$o] /" "/tmp/fit_$o.log"; done > "$OUT/fits.log"
stamp "fits done" >> "$OUT/checks.log"
(cd /tmp/relight_gpu && tar czf "$OUT/pictures.tar.gz" --ignore-failed-read \
  $(for o in $OBJECTS; do echo "${o}_fit/albedo.png ${o}_fit/roughness.png ${o}_fit/loss.png \
    ${o}_fit/geometry_loss.png ${o}_fit/metrics.md"; done) 2>/dev/null)
kill "$SMI" 2>/dev/null; true
