#!/usr/bin/env bash
# Builds with warnings as errors and runs the whole test suite (CTest), then prints the op
# coverage lines of the op harness and the PyTorch cross-check.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LDM_BUILD_DIR:-build}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLDM_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
status=0
ctest --test-dir "$build" --output-on-failure || status=$?
echo
grep -h -E "^(op harness|torch cross-check):" "$build/Testing/Temporary/LastTest.log" || true
exit $status
