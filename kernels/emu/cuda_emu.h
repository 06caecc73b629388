// The CUDA dialect for g++: what a kernels/cuda source sees instead of the CUDA headers when it
// is compiled for the SIMT emulator (kernels/emu/runtime.h). Qualifiers become nothing,
// threadIdx & co. read the current fiber's context, __shared__ becomes a function-local static
// (one copy per block, because blocks run one after another on one OS thread), and barriers,
// warp collectives and dynamic shared memory go through the scheduler.
#pragma once

#ifdef __CUDACC__
#error "kernels/emu/cuda_emu.h is for the emulator build (g++); nvcc uses the CUDA headers"
#endif

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "kernels/emu/runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
// Every static __shared__ array lives in one linker section, which the emulator fills with
// 0xff bytes (NaN as float) when each block starts: on a GPU a block's shared memory starts
// out as garbage, and stale values from the previous block would hide a missing barrier.
// Under ASan the arrays stay plain statics instead, so that ASan's redzones around each one
// catch out-of-bounds accesses (it does not instrument globals in named sections). GCC drops
// the section of a static in a function template (its COMDAT copy goes to .bss), so a template
// kernel's static shared memory is not poisoned: template kernels take LDM_DYNAMIC_SHARED.
#if defined(__SANITIZE_ADDRESS__)
#define __shared__ static
#else
#define __shared__ static __attribute__((section("ldm_emu_shared")))
#endif

// CUDA's built-in index variables: each use reads the running fiber's context.
#define threadIdx (::ldm::emu::this_thread().thread_idx)
#define blockIdx (::ldm::emu::this_thread().block_idx)
#define blockDim (::ldm::emu::this_thread().block_dim)
#define gridDim (::ldm::emu::this_thread().grid_dim)

// `LDM_DYNAMIC_SHARED(float, tile);` declares `float* tile` over the block's dynamic shared
// memory: `extern __shared__` under nvcc, the emulator's guarded per-block buffer here.
#define LDM_DYNAMIC_SHARED(type, name) \
  type* name = static_cast<type*>(::ldm::emu::dynamic_shared_memory())

using dim3 = ::ldm::emu::Dim3;
using uint3 = ::ldm::emu::Dim3;
using cudaStream_t = struct CUstream_st*;

inline constexpr int warpSize = ::ldm::emu::kWarpSize;

// ---- synchronization ----

inline void __syncthreads(std::source_location site = std::source_location::current()) {
  ::ldm::emu::sync_threads(site);
}

inline void __syncwarp(unsigned mask = ::ldm::emu::kFullMask,
                       std::source_location site = std::source_location::current()) {
  ::ldm::emu::sync_warp(mask, site);
}

inline unsigned __activemask() {
  return ::ldm::emu::active_mask();
}

// Memory fences order nothing here: every fiber of a block runs on one OS thread.
inline void __threadfence_block() {}
inline void __threadfence() {}

// ---- warp shuffles and votes ----

namespace ldm::emu::detail {

template <typename T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp shuffles move 32- or 64-bit values");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  return bits;
}

template <typename T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Every lane in mask takes part; a lane reads source_lane's value, or its own when CUDA's rules
// put the source outside its width-wide segment (own_if_outside).
template <typename T>
T shuffle(const char* kind, unsigned mask, T var, int source_lane, bool outside,
          std::source_location site) {
  const int lane = this_thread().lane();
  if (!outside && source_lane != lane) check_shuffle_source(kind, mask, source_lane, site);
  const WarpValues all = warp_exchange(kind, mask, to_bits(var), site);
  return outside ? var : from_bits<T>(all.lane[source_lane]);
}

inline int segment_base(int lane, int width) {
  return lane & ~(width - 1);
}

}  // namespace ldm::emu::detail

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              std::source_location site = std::source_location::current()) {
  using namespace ::ldm::emu::detail;
  const int lane = ::ldm::emu::this_thread().lane();
  const int src = segment_base(lane, width) + (src_lane & (width - 1));
  return shuffle("__shfl_sync", mask, var, src, false, site);
}

template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location site = std::source_location::current()) {
  using namespace ::ldm::emu::detail;
  const int lane = ::ldm::emu::this_thread().lane();
  const int src = lane - static_cast<int>(delta);
  return shuffle("__shfl_up_sync", mask, var, src, src < segment_base(lane, width), site);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location site = std::source_location::current()) {
  using namespace ::ldm::emu::detail;
  const int lane = ::ldm::emu::this_thread().lane();
  const int src = lane + static_cast<int>(delta);
  return shuffle("__shfl_down_sync", mask, var, src, src >= segment_base(lane, width) + width,
                 site);
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  std::source_location site = std::source_location::current()) {
  using namespace ::ldm::emu::detail;
  const int lane = ::ldm::emu::this_thread().lane();
  const int src = lane ^ lane_mask;
  const int base = segment_base(lane, width);
  return shuffle("__shfl_xor_sync", mask, var, src, src < base || src >= base + width, site);
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              std::source_location site = std::source_location::current()) {
  const auto all = ::ldm::emu::warp_exchange("__ballot_sync", mask, predicate != 0, site);
  unsigned bits = 0;
  for (int l = 0; l < warpSize; ++l) {
    if ((mask >> l & 1u) && all.lane[l]) bits |= 1u << l;
  }
  return bits;
}

inline int __any_sync(unsigned mask, int predicate,
                      std::source_location site = std::source_location::current()) {
  const auto all = ::ldm::emu::warp_exchange("__any_sync", mask, predicate != 0, site);
  for (int l = 0; l < warpSize; ++l) {
    if ((mask >> l & 1u) && all.lane[l]) return 1;
  }
  return 0;
}

inline int __all_sync(unsigned mask, int predicate,
                      std::source_location site = std::source_location::current()) {
  const auto all = ::ldm::emu::warp_exchange("__all_sync", mask, predicate != 0, site);
  for (int l = 0; l < warpSize; ++l) {
    if ((mask >> l & 1u) && !all.lane[l]) return 0;
  }
  return 1;
}

// ---- atomics (relaxed: the fibers of a grid share one OS thread) ----

template <typename T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}

template <typename T>
T atomicSub(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_sub(value, std::memory_order_relaxed);
}

template <typename T>
T atomicExch(T* address, T value) {
  return std::atomic_ref<T>(*address).exchange(value, std::memory_order_relaxed);
}

template <typename T>
T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
  return compare;  // the old value, whether or not it was replaced
}

template <typename T>
T atomicMax(T* address, T value) {
  static_assert(std::is_integral_v<T>, "CUDA's atomicMax takes integers");
  std::atomic_ref<T> a(*address);
  T old = a.load(std::memory_order_relaxed);
  while (old < value && !a.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}

template <typename T>
T atomicMin(T* address, T value) {
  static_assert(std::is_integral_v<T>, "CUDA's atomicMin takes integers");
  std::atomic_ref<T> a(*address);
  T old = a.load(std::memory_order_relaxed);
  while (old > value && !a.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}

// ---- math intrinsics: the fast CUDA variants map to the exact libm functions ----

inline float __expf(float x) {
  return std::exp(x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline float __sinf(float x) {
  return std::sin(x);
}
inline float __cosf(float x) {
  return std::cos(x);
}
inline float __powf(float x, float y) {
  return std::pow(x, y);
}
inline float __fdividef(float x, float y) {
  return x / y;
}
inline float __frcp_rn(float x) {
  return 1.0f / x;
}
inline float __fsqrt_rn(float x) {
  return std::sqrt(x);
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline double rsqrt(double x) {
  return 1.0 / std::sqrt(x);
}
inline float __saturatef(float x) {
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
inline float __fmaf_rn(float a, float b, float c) {
  return std::fma(a, b, c);
}
// Round-to-nearest operations that nvcc never contracts into an FMA (g++ in ISO C++ mode
// does not contract either), so a kernel written with them rounds like the CPU loop.
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fdiv_rn(float a, float b) {
  return a / b;
}
inline int __float_as_int(float x) {
  return std::bit_cast<int>(x);
}
inline float __int_as_float(int x) {
  return std::bit_cast<float>(x);
}
inline unsigned __float_as_uint(float x) {
  return std::bit_cast<unsigned>(x);
}
inline float __uint_as_float(unsigned x) {
  return std::bit_cast<float>(x);
}
inline int __popc(unsigned x) {
  return std::popcount(x);
}
inline int __ffs(unsigned x) {
  return x ? std::countr_zero(x) + 1 : 0;
}
inline int __clz(unsigned x) {
  return std::countl_zero(x);
}

template <typename T>
T __ldg(const T* p) {
  return *p;
}
