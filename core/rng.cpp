// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// generator cuRAND and PyTorch's CUDA backend use, so a GPU kernel can produce the same
// numbers from the same counters.
#include "core/rng.h"

#include <cmath>
#include <numbers>

#include "kernels/cpu/parallel.h"

namespace ldm {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t& hi) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// 53 random bits from two words -> [0, 1).
inline double to_unit(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

}  // namespace

std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter_lo, uint64_t counter_hi) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(kMul0, c0, hi0);
    const uint32_t lo1 = mulhilo(kMul1, c2, hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
}

double uniform01(uint64_t seed, uint64_t stream, uint64_t index) {
  const auto r = philox4x32(seed, index, stream);
  return to_unit(r[0], r[1]);
}

double standard_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const auto r = philox4x32(seed, index, stream);
  // 1 - u keeps the log argument in (0, 1].
  const double u1 = 1.0 - to_unit(r[0], r[1]);
  const double u2 = to_unit(r[2], r[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

namespace {

template <typename Generate>
Tensor fill(Rng& rng, const Shape& shape, DType dtype, Generate&& generate) {
  // Filled on the host (the generator is the CPU's Philox), then moved to the default device.
  Tensor t = Tensor::empty(shape, dtype, Device::cpu());
  const int64_t n = t.numel();
  const uint64_t base = rng.offset;
  rng.offset += static_cast<uint64_t>(n);
  auto body = [&]<typename T>() {
    T* out = t.data<T>();
    kernels::cpu::parallel_for(n, 32, [&](int64_t i) {
      out[i] = static_cast<T>(generate(base + static_cast<uint64_t>(i)));
    });
  };
  switch (dtype) {
    case DType::kF32: body.template operator()<float>(); break;
    case DType::kF64: body.template operator()<double>(); break;
    case DType::kI32: body.template operator()<int32_t>(); break;
    default: fail("random fill: dtype ", dtype_name(dtype), " is not supported");
  }
  return t;
}

}  // namespace

Tensor Rng::uniform(const Shape& shape, double low, double high, DType dtype) {
  Tensor t = fill(*this, shape, dtype, [&](uint64_t i) {
    return low + (high - low) * uniform01(seed, stream, i);
  });
  // Rounding to float can carry a value within 2^-25 of `high` up to `high` itself; keep the
  // interval half-open.
  if (dtype == DType::kF32) {
    const float below = std::nextafter(static_cast<float>(high), static_cast<float>(low));
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (p[i] >= static_cast<float>(high) && high > low) p[i] = below;
  }
  return t.to(default_device());
}

Tensor Rng::normal(const Shape& shape, double mean, double stddev, DType dtype) {
  return fill(*this, shape, dtype, [&](uint64_t i) {
           return mean + stddev * standard_normal(seed, stream, i);
         }).to(default_device());
}

Tensor Rng::randint(const Shape& shape, int32_t bound) {
  if (bound <= 0) fail("randint: bound must be positive, not ", bound);
  return fill(*this, shape, DType::kI32, [&](uint64_t i) {
           return static_cast<int32_t>(uniform01(seed, stream, i) * bound);
         }).to(default_device());
}

}  // namespace ldm
