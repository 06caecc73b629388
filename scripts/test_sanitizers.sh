#!/usr/bin/env bash
# The SIMT emulator's tests (tests/emu: the emulator itself and the CUDA kernels run through it)
# once more under ASan+UBSan and once under TSan, each in its own build directory. Planted bugs
# the sanitizers must catch run as their own ctest entries (emu_asan_oob, emu_tsan_race).
# Usage: scripts/test_sanitizers.sh [BUILD_DIR_PREFIX] (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-${LDM_BUILD_DIR:-build}}
status=0
for san in address,undefined thread; do
  dir="$prefix-${san%%,*}"
  start=$SECONDS
  echo "=== sanitizer build: $san ($dir)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDM_WERROR=ON -DLDM_CUDA=OFF \
        -DLDM_SANITIZE="$san" >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target ldm_emu_tests
  # One OpenMP thread: the CPU reference kernels' libgomp is not instrumented for TSan.
  OMP_NUM_THREADS=1 ctest --test-dir "$dir" -R '^emu' --output-on-failure || status=1
  echo "=== sanitizer build: $san: $((SECONDS - start)) s"
done
exit $status
