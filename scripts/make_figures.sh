#!/usr/bin/env bash
# Regenerates the pictures of docs/results.md from a finished run: sample grids of both labels
# at guidance scales 0, 1, 3 and 7 (same seed, so only the guidance differs), a DDPM grid, the
# denoising GIFs, the loss curves and the last VQ-VAE reconstruction grid.
# Usage: scripts/make_figures.sh [RUN_DIR] (default runs/pneumonia28); writes docs/figures/.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/pneumonia28}
build=${LDM_BUILD_DIR:-build}
out=docs/figures
sample="$build/tools/ldm-sample"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -f "$run/ldm.safetensors" ] || { echo "make_figures: $run holds no trained run" >&2; exit 1; }
mkdir -p "$out"

for label in normal pneumonia; do
  for w in 0 1 3 7; do
    "$sample" --run "$run" --label "$label" --cfg "$w" --n 32 --sampler ddim --steps 50 \
      --seed 7 --out "$tmp/$label-cfg$w" 2>/dev/null
    cp "$tmp/$label-cfg$w/grid.png" "$out/samples_${label}_cfg$w.png"
  done
  "$sample" --run "$run" --label "$label" --cfg 3 --n 32 --sampler ddpm --seed 7 \
    --out "$tmp/$label-ddpm" 2>/dev/null
  cp "$tmp/$label-ddpm/grid.png" "$out/samples_${label}_ddpm_cfg3.png"
done
cp "$tmp/pneumonia-cfg3/denoise_images.gif" "$out/denoise_images.gif"
cp "$tmp/pneumonia-cfg3/denoise_latents.gif" "$out/denoise_latents.gif"
cp "$run/loss_vqvae.png" "$run/loss_ldm.png" "$out/"
last=$(ls "$run"/samples/vqvae_epoch_*.png | sort -V | tail -1)
cp "$last" "$out/vqvae_reconstructions.png"
echo "make_figures: wrote $(ls "$out" | wc -l) files to $out"
