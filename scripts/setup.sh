#!/usr/bin/env bash
# Installs every Debian 12 package this project needs to build, test and benchmark.
# Non-interactive and idempotent: run it as root (or it re-runs itself through sudo).
set -euo pipefail

packages=(
  build-essential cmake git pkg-config
  libopenblas-openmp-dev   # sgemm/dgemm (OpenMP build: shares our thread pool)
  nlohmann-json3-dev       # configs, safetensors headers
  catch2                   # tests
  libbenchmark-dev         # op microbenchmarks
  python3-torch python3-numpy  # PyTorch cross-checks (Debian's torch: CPU only, small)
  libzip-dev libstb-dev libgif-dev libcli11-dev  # data and tools (npz, PNG, GIF, flags)
  libboost-context-dev     # fibers for the SIMT emulator
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root (missing: ${missing[*]})" >&2; exit 1; }
  exec sudo "$0" "$@"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
