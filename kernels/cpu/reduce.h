// Deterministic reductions in double for the CPU kernels: many independent accumulators (so the
// sums are throughput- rather than latency-bound) combined in a fixed tree (so the result
// depends only on the data, never on the thread count).
#pragma once

#include <cstdint>

namespace ldm::kernels::cpu {

// Independent accumulators per reduction: enough to hide the FP add latency (a single vector
// accumulator would make the sums latency bound), combined in a fixed tree so the result
// depends only on n, never on how the work was split across threads.
constexpr int kReduceLanes = 32;

inline double combine_lanes(double* acc) {
  for (int w = kReduceLanes / 2; w >= 1; w /= 2) {
    for (int k = 0; k < w; ++k) acc[k] += acc[k + w];
  }
  return acc[0];
}

// Sum of p[0, n) in double.
template <typename T>
double sum_lanes(const T* __restrict p, int64_t n) {
  double acc[kReduceLanes] = {};
  int64_t i = 0;
  for (; i + kReduceLanes <= n; i += kReduceLanes) {
    for (int k = 0; k < kReduceLanes; ++k) acc[k] += static_cast<double>(p[i + k]);
  }
  for (int k = 0; i + k < n; ++k) acc[k] += static_cast<double>(p[i + k]);
  return combine_lanes(acc);
}

// Sum of (p - m)^2: the second pass of a two-pass variance (no cancellation).
template <typename T>
double sq_dev_lanes(const T* __restrict p, int64_t n, double m) {
  double acc[kReduceLanes] = {};
  int64_t i = 0;
  for (; i + kReduceLanes <= n; i += kReduceLanes) {
    for (int k = 0; k < kReduceLanes; ++k) {
      const double d = static_cast<double>(p[i + k]) - m;
      acc[k] += d * d;
    }
  }
  for (int k = 0; i + k < n; ++k) {
    const double d = static_cast<double>(p[i + k]) - m;
    acc[k] += d * d;
  }
  return combine_lanes(acc);
}

// Dot product of p[0, n) and q[0, n) in double.
template <typename T>
double dot_lanes(const T* __restrict p, const T* __restrict q, int64_t n) {
  double acc[kReduceLanes] = {};
  int64_t i = 0;
  for (; i + kReduceLanes <= n; i += kReduceLanes) {
    for (int k = 0; k < kReduceLanes; ++k) {
      acc[k] += static_cast<double>(p[i + k]) * static_cast<double>(q[i + k]);
    }
  }
  for (int k = 0; i + k < n; ++k) {
    acc[k] += static_cast<double>(p[i + k]) * static_cast<double>(q[i + k]);
  }
  return combine_lanes(acc);
}

}  // namespace ldm::kernels::cpu
