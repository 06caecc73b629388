// Device buffers for the benchmark cases: owned, typed, filled once from the host with
// reproducible values, and read back for the comparisons with cuDNN and cuBLAS.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/gpu/check.h"

namespace ldm::bench::gpu {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t n) : n_(n) {
    if (n > 0) LDM_CHECK(cudaMalloc(&ptr_, static_cast<size_t>(n) * sizeof(T)));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), n_(o.n_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);  // no check: a destructor may run while dying of another error
  }

  T* get() const { return ptr_; }
  int64_t size() const { return n_; }
  double bytes() const { return static_cast<double>(n_) * sizeof(T); }

  void upload(const std::vector<T>& host) {
    LDM_CHECK(
        cudaMemcpy(ptr_, host.data(), static_cast<size_t>(n_) * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(static_cast<size_t>(n_));
    LDM_CHECK(
        cudaMemcpy(host.data(), ptr_, static_cast<size_t>(n_) * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  void zero() { LDM_CHECK(cudaMemset(ptr_, 0, static_cast<size_t>(n_) * sizeof(T))); }

 private:
  T* ptr_ = nullptr;
  int64_t n_ = 0;
};

// Uniform values in [lo, hi), from a seed per buffer so every run sees the same data.
inline DeviceBuffer<float> random_buffer(int64_t n, uint32_t seed, float lo = -1.0f,
                                         float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> host(static_cast<size_t>(n));
  for (float& v : host) v = dist(rng);
  DeviceBuffer<float> buffer(n);
  buffer.upload(host);
  return buffer;
}

inline DeviceBuffer<int32_t> random_indices(int64_t n, int32_t bound, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, bound - 1);
  std::vector<int32_t> host(static_cast<size_t>(n));
  for (int32_t& v : host) v = dist(rng);
  DeviceBuffer<int32_t> buffer(n);
  buffer.upload(host);
  return buffer;
}

// max |ours - ref| / max |ref|: the error relative to the output's scale, which stays meaningful
// where single elements of ref are near zero. NaN or Inf anywhere in ours gives +Inf.
double max_relative_error(const DeviceBuffer<float>& ours, const DeviceBuffer<float>& ref);

}  // namespace ldm::bench::gpu
