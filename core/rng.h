// Counter-based random numbers (Philox4x32-10). A number is a pure function of
// (seed, stream, index): the same seed gives the same numbers whatever the batch split, the
// thread count or the device, and a generator's whole state is three integers, so a
// checkpoint restores it exactly.
#pragma once

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace ldm {

// The raw generator: 4 x 32 random bits for a 128-bit counter under a 64-bit key.
std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter_lo, uint64_t counter_hi);

// Element `index` of stream `stream` under `seed`, uniform in [0, 1) with 24 (float) or
// 53 (double) random bits, and standard normal (Box-Muller on the same counter).
double uniform01(uint64_t seed, uint64_t stream, uint64_t index);
double standard_normal(uint64_t seed, uint64_t stream, uint64_t index);

// A position in one stream. Each fill consumes numel indices, so consecutive fills differ
// and a restored (seed, stream, offset) continues exactly where it stopped.
struct Rng {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t offset = 0;

  // Uniform in [low, high).
  Tensor uniform(const Shape& shape, double low = 0.0, double high = 1.0,
                 DType dtype = DType::kF32);
  Tensor normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                DType dtype = DType::kF32);
  // Uniform integers in [0, bound).
  Tensor randint(const Shape& shape, int32_t bound);
};

}  // namespace ldm
