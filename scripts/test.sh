#!/usr/bin/env bash
# Builds with warnings as errors and runs the whole test suite (CTest), then prints the op
# coverage lines of the op harness and the PyTorch cross-check; then the emulator's tests again
# under ASan+UBSan and TSan (scripts/test_sanitizers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LDM_BUILD_DIR:-build}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLDM_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
status=0
start=$SECONDS
ctest --test-dir "$build" --output-on-failure || status=$?
echo
grep -h -E "^(op harness|torch cross-check|emulated CUDA device|--device emu vs cpu):" "$build/Testing/Temporary/LastTest.log" || true
echo "=== ctest: $((SECONDS - start)) s"
scripts/test_sanitizers.sh "$build" || status=1
exit $status
