// OpenMP helpers for the CPU kernels. Loops below kMinParallelWork elements stay serial: on
// tiny tensors the fork/join costs more than the work.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ldm::kernels::cpu {

inline constexpr int64_t kMinParallelWork = 1 << 14;

// Runs body(i) for i in [0, n), in parallel when n * work_per_item is large enough.
template <typename Body>
void parallel_for(int64_t n, int64_t work_per_item, Body&& body) {
  if (n * work_per_item < kMinParallelWork) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// Runs body(begin, end) over [0, n) in contiguous pieces of `chunk` elements, so inner loops
// stay vectorizable, across cores when n is large.
template <typename Body>
void parallel_chunks(int64_t n, int64_t chunk, Body&& body) {
  const int64_t pieces = (n + chunk - 1) / chunk;
  parallel_for(pieces, chunk, [&](int64_t c) {
    const int64_t begin = c * chunk;
    body(begin, std::min(n, begin + chunk));
  });
}

}  // namespace ldm::kernels::cpu
