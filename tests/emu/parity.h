// Helpers for the tests that run kernels/cuda through the emulator against the CPU kernels:
// seeded inputs, the three thread orders, and comparisons within a stated number of float
// epsilons of each element's own scale.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "kernels/emu/runtime.h"

namespace ldm::test {

inline std::vector<float> normal_floats(std::size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline std::vector<float> uniform_floats(std::size_t n, uint64_t seed, float low, float high) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(low, high);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  // memcmp on the null data() of an empty vector is undefined (UBSan reports it).
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// |got[i] - want[i]| <= ulps float epsilons of scale[i] (the sum of the magnitudes of want[i]'s
// terms, or another bound on the size of the rounding errors), for every element; the first
// element that is not is reported.
inline bool within_eps(const std::vector<float>& got, const std::vector<float>& want,
                       const std::vector<double>& scale, double ulps) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = ulps * std::numeric_limits<float>::epsilon() * scale[i];
    if (!(std::abs(static_cast<double>(got[i]) - want[i]) <= tol)) {
      UNSCOPED_INFO("element " << i << ": " << got[i] << " vs " << want[i] << ", tolerance "
                               << tol);
      return false;
    }
  }
  return true;
}

// check() once in each thread order (shuffled with `seed`); the options are reset after.
inline void for_each_order(uint64_t seed, const std::function<void()>& check) {
  for (auto order :
       {emu::ThreadOrder::kForward, emu::ThreadOrder::kReverse, emu::ThreadOrder::kShuffled}) {
    emu::LaunchOptions o;
    o.order = order;
    o.seed = seed;
    emu::set_launch_options(o);
    INFO(emu::to_string(order));
    check();
  }
  emu::set_launch_options({});
}

}  // namespace ldm::test
