// kernels/cuda/norm.cu through the emulator against the CPU group norm, in every thread order,
// on shapes with one and several channels a group, HW of 1, 3x5, 8x8 and 16x16 (groups larger
// than the 256-thread block, so threads loop), a group too large for shared memory, and null
// gamma, beta and outputs. Both sides reduce in double, in different orders, and round once:
//   mean    within 2 float epsilons of |mean| + mean |x| (the sums agree to double precision;
//           the float rounding of two nearby doubles can differ by one ulp),
//   rstd    within 2 float epsilons of rstd,
//   y, dx   within 4 float epsilons of the sum of the magnitudes of their terms (x * scale +
//           shift; k1 dy + k2 x + k3): the folded coefficients are doubles rounded to float on
//           both sides, and GCC may contract the CPU's multiply-adds differently,
//   dgamma  within 4 float epsilons of sum |dy| (|x - mean| + |mean|) rstd (the CPU subtracts
//           db * mean from ds, this kernel sums dy * xhat: the same sum, rounded differently in
//           double), dbeta within 4 of sum |dy|.
// A missing or doubled element moves each of these by about 1 / (N * HW) or 1 / group size of
// its scale, far beyond these tolerances.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/norm.h"
#include "kernels/cuda/norm.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::GroupNormArgs;

constexpr uint64_t kOrderSeed = 11;

struct Shape {
  int64_t N, C, groups, HW;
};

struct Inputs {
  std::vector<float> x, gamma, beta, dy;
};

Inputs make_inputs(const GroupNormArgs& a, uint64_t seed) {
  const auto n = static_cast<std::size_t>(a.N * a.C * a.HW);
  Inputs in;
  // An offset mean, as activations have, so that a one-pass variance would lose digits.
  in.x = normal_floats(n, seed, 2.0f);
  for (float& v : in.x) v += 3.0f;
  in.gamma = normal_floats(static_cast<std::size_t>(a.C), seed + 1);
  in.beta = normal_floats(static_cast<std::size_t>(a.C), seed + 2);
  in.dy = normal_floats(n, seed + 3);
  return in;
}

struct Bounds {
  std::vector<double> mean, rstd, y, dx, dgamma, dbeta;
};

// Error scales from the CPU's statistics, in double (the formulas of kernels/cpu/norm.cpp).
Bounds bounds(const GroupNormArgs& a, const Inputs& in, const float* gamma, const float* beta,
              const std::vector<float>& mean, const std::vector<float>& rstd) {
  const int64_t N = a.N, C = a.C, HW = a.HW, G = a.groups, D = C / G;
  const double count = static_cast<double>(D * HW > 0 ? D * HW : 1);
  Bounds b;
  b.mean.resize(static_cast<std::size_t>(N * G));
  b.rstd.resize(b.mean.size());
  b.y.resize(in.x.size());
  b.dx.resize(in.x.size());
  b.dgamma.assign(static_cast<std::size_t>(C), 0.0);
  b.dbeta.assign(static_cast<std::size_t>(C), 0.0);
  for (int64_t ng = 0; ng < N * G; ++ng) {
    const int64_t n = ng / G, g = ng % G;
    const double m = mean[ng], r = rstd[ng];
    double abs_sum = 0, dsg = 0, dbg = 0;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t c = g * D + d;
      const double gm = gamma ? gamma[c] : 1.0;
      for (int64_t hw = 0; hw < HW; ++hw) {
        const int64_t i = (n * C + c) * HW + hw;
        abs_sum += std::abs(in.x[i]);
        dsg += gm * in.dy[i] * in.x[i];
        dbg += gm * in.dy[i];
      }
    }
    b.mean[ng] = std::abs(m) + abs_sum / count;
    b.rstd[ng] = r;
    const double c2 = (dbg * m - dsg) * r * r * r / count;
    const double c3 = -c2 * m - dbg * r / count;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t c = g * D + d;
      const double gm = gamma ? gamma[c] : 1.0;
      const double k = r * gm, s = (beta ? beta[c] : 0.0) - m * k;
      for (int64_t hw = 0; hw < HW; ++hw) {
        const int64_t i = (n * C + c) * HW + hw;
        const double x = in.x[i], dy = in.dy[i];
        b.y[i] = std::abs(x * k) + std::abs(s) + std::abs(x * k + s);
        const double dx = dy * k + x * c2 + c3;
        b.dx[i] = std::abs(dy * k) + std::abs(x * c2) + std::abs(c3) + std::abs(dx);
        b.dgamma[c] += std::abs(dy) * (std::abs(x - m) + std::abs(m)) * r;
        b.dbeta[c] += std::abs(dy);
      }
    }
  }
  return b;
}

// Forward and backward of one shape, all outputs requested, with and without gamma and beta.
void check_shape(const Shape& s, bool affine, uint64_t seed) {
  const GroupNormArgs a{s.N, s.C, s.HW, s.groups, 1e-5};
  INFO("N " << s.N << " C " << s.C << " groups " << s.groups << " HW " << s.HW << " affine "
            << affine);
  const Inputs in = make_inputs(a, seed);
  const float* gamma = affine ? in.gamma.data() : nullptr;
  const float* beta = affine ? in.beta.data() : nullptr;
  const std::size_t n = in.x.size(), stats = static_cast<std::size_t>(s.N * s.groups);
  const auto C = static_cast<std::size_t>(s.C);
  std::vector<float> y(n), mean(stats), rstd(stats), dx(n), dgamma(C), dbeta(C);
  cpu::group_norm_forward(a, in.x.data(), gamma, beta, y.data(), mean.data(), rstd.data());
  cpu::group_norm_backward(a, in.x.data(), gamma, mean.data(), rstd.data(), in.dy.data(), dx.data(),
                           dgamma.data(), dbeta.data());
  const Bounds b = bounds(a, in, gamma, beta, mean, rstd);
  for_each_order(kOrderSeed, [&] {
    std::vector<float> y_e(n), mean_e(stats), rstd_e(stats), dx_e(n), dgamma_e(C), dbeta_e(C);
    gpu::group_norm_forward(a, in.x.data(), gamma, beta, y_e.data(), mean_e.data(), rstd_e.data(),
                            nullptr);
    CHECK(within_eps(mean_e, mean, b.mean, 2));
    CHECK(within_eps(rstd_e, rstd, b.rstd, 2));
    CHECK(within_eps(y_e, y, b.y, 4));
    // The backward takes the CPU's statistics, so that its tolerance is its own.
    gpu::group_norm_backward(a, in.x.data(), gamma, mean.data(), rstd.data(), in.dy.data(),
                             dx_e.data(), dgamma_e.data(), dbeta_e.data(), nullptr);
    CHECK(within_eps(dx_e, dx, b.dx, 4));
    CHECK(within_eps(dgamma_e, dgamma, b.dgamma, 4));
    CHECK(within_eps(dbeta_e, dbeta, b.dbeta, 4));
  });
}

TEST_CASE("emulated group norm matches the CPU", "[emu][norm]") {
  const Shape shapes[] = {
      {2, 8, 4, 15},    // two channels a group, 3x5
      {3, 16, 8, 64},   // 8x8
      {2, 32, 32, 64},  // one channel a group (the U-Net's 32 groups)
      {2, 16, 4, 256},  // 16x16, 1,024 values a group: four per thread
      {3, 8, 8, 1},     // one value a group: the variance is 0
      {2, 16, 4, 1},    // HW = 1, four channels a group
  };
  uint64_t seed = 100;
  for (const Shape& s : shapes) {
    check_shape(s, true, seed);
    check_shape(s, false, seed + 10);
    seed += 20;
  }
}

TEST_CASE("emulated group norm without shared-memory caching matches the CPU", "[emu][norm]") {
  // 16,384 values a group: more than the 48 KiB of shared memory holds, so both passes read
  // global memory.
  check_shape({1, 16, 1, 1024}, true, 300);
}

TEST_CASE("emulated group norm skips null outputs", "[emu][norm]") {
  const GroupNormArgs a{2, 16, 15, 4, 1e-5};
  const Inputs in = make_inputs(a, 400);
  const std::size_t n = in.x.size(), stats = 8, C = 16;
  std::vector<float> y(n), mean(stats), rstd(stats), dx(n), dgamma(C), dbeta(C);
  cpu::group_norm_forward(a, in.x.data(), in.gamma.data(), in.beta.data(), y.data(), mean.data(),
                          rstd.data());
  cpu::group_norm_backward(a, in.x.data(), in.gamma.data(), mean.data(), rstd.data(), in.dy.data(),
                           dx.data(), dgamma.data(), dbeta.data());
  const Bounds b = bounds(a, in, in.gamma.data(), in.beta.data(), mean, rstd);
  for_each_order(kOrderSeed, [&] {
    std::vector<float> y_e(n), dx_e(n), dgamma_e(C), dbeta_e(C);
    gpu::group_norm_forward(a, in.x.data(), in.gamma.data(), in.beta.data(), y_e.data(), nullptr,
                            nullptr, nullptr);
    CHECK(within_eps(y_e, y, b.y, 4));
    // One output at a time; a write through a null pointer would crash the test.
    gpu::group_norm_backward(a, in.x.data(), in.gamma.data(), mean.data(), rstd.data(),
                             in.dy.data(), dx_e.data(), nullptr, nullptr, nullptr);
    CHECK(within_eps(dx_e, dx, b.dx, 4));
    gpu::group_norm_backward(a, in.x.data(), in.gamma.data(), mean.data(), rstd.data(),
                             in.dy.data(), nullptr, dgamma_e.data(), nullptr, nullptr);
    CHECK(within_eps(dgamma_e, dgamma, b.dgamma, 4));
    // dbeta alone needs neither x nor the statistics.
    gpu::group_norm_backward(a, nullptr, in.gamma.data(), nullptr, nullptr, in.dy.data(), nullptr,
                             nullptr, dbeta_e.data(), nullptr);
    CHECK(within_eps(dbeta_e, dbeta, b.dbeta, 4));
    gpu::group_norm_backward(a, in.x.data(), in.gamma.data(), mean.data(), rstd.data(),
                             in.dy.data(), nullptr, nullptr, nullptr, nullptr);
  });
}

TEST_CASE("emulated group norm on empty planes writes what the CPU writes", "[emu][norm]") {
  // HW = 0: no y, but the statistics of an empty group (mean 0, rstd 1 / sqrt(eps)) and zero
  // parameter gradients, as the CPU writes them.
  const GroupNormArgs a{2, 8, 0, 4, 1e-5};
  std::vector<float> mean(8), rstd(8), dgamma(8), dbeta(8);
  cpu::group_norm_forward<float>(a, nullptr, nullptr, nullptr, nullptr, mean.data(), rstd.data());
  cpu::group_norm_backward<float>(a, nullptr, nullptr, mean.data(), rstd.data(), nullptr, nullptr,
                                  dgamma.data(), dbeta.data());
  std::vector<float> mean_e(8, -1.0f), rstd_e(8, -1.0f), dgamma_e(8, -1.0f), dbeta_e(8, -1.0f);
  gpu::group_norm_forward(a, nullptr, nullptr, nullptr, nullptr, mean_e.data(), rstd_e.data(),
                          nullptr);
  gpu::group_norm_backward(a, nullptr, nullptr, mean.data(), rstd.data(), nullptr, nullptr,
                           dgamma_e.data(), dbeta_e.data(), nullptr);
  CHECK(bitwise_equal(mean_e, mean));
  CHECK(within_eps(rstd_e, rstd, std::vector<double>(rstd.begin(), rstd.end()), 2));
  CHECK(bitwise_equal(dgamma_e, dgamma));
  CHECK(bitwise_equal(dbeta_e, dbeta));
}

}  // namespace
}  // namespace ldm::test
