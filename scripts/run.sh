#!/usr/bin/env bash
# The main job: build, train the default model (VQ-VAE, then the latent U-Net), then sample 64
# chest X-rays for each label. Usage: scripts/run.sh [RUN_DIR] (default runs/pneumonia28).
# Running it again resumes an unfinished run, and re-samples a finished one.
# The dataset is looked up as ldm-train does: $MEDMNIST_ROOT, then ~/.medmnist.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/pneumonia28}
build=${LDM_BUILD_DIR:-build}

stage() { echo "== $1 ($(date +%T))"; }

stage build
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)"

stage train
start=$SECONDS
if [ -f "$run/config.json" ]; then
  "$build/tools/ldm-train" --out "$run" --resume
else
  "$build/tools/ldm-train" --config configs/pneumonia28.json --out "$run"
fi
echo "training took $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"

stage sample
for label in normal pneumonia; do
  "$build/tools/ldm-sample" --run "$run" --label "$label" --cfg 3 --n 64 --sampler ddim \
    --steps 50 --seed 1 --out "$run/$label"
done
echo "samples: $run/normal/grid.png and $run/pneumonia/grid.png; loss curves: $run/loss_*.png"
