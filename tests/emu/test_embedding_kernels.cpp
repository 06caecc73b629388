// kernels/cuda/embedding.cu through the emulator against the CPU kernels, in every thread
// order. Tolerances:
// - embedding forward and backward, MSE backward: bitwise (copies; float sums in the CPU's
//   order; one multiply by the same float coefficient).
// - MSE forward: both sides sum in double (different orders) and round once: within 2 float
//   epsilons of the loss (the double error is ~n 2^-53 of it, negligible).
// - timestep embedding forward: the CPU uses float expf/sinf/cosf (glibc, within 0.6 ulp), the
//   kernel rounds double exp/sin/cos once; a frequency one ulp apart moves the argument by up
//   to 2 eps |arg|, so each value is within 4 float epsilons of |arg| + 1.
// - timestep embedding backward: those errors in every term plus the CPU's float running sum
//   over half terms: within (half + 8) float epsilons of sum_i freq_i (|g_i| + |g_half+i|)
//   (|arg_i| + 1).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/embedding.h"
#include "kernels/cuda/embedding.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::EmbeddingArgs;
using kernels::TimestepEmbeddingArgs;

constexpr uint64_t kOrderSeed = 23;

void check_timestep(int64_t N, int64_t dim) {
  INFO("N " << N << ", dim " << dim);
  const TimestepEmbeddingArgs a{N, dim, 10000.0};
  const int64_t half = dim / 2;
  // Integer steps over the schedule (t reaches 999, the largest arguments) and fractional ones.
  std::vector<float> t = uniform_floats(N, 60, 0.0f, 999.0f);
  for (int64_t n = 0; n < N; n += 2) t[n] = std::floor(t[n]);
  t[0] = 0.0f;
  t[N - 1] = 999.0f;
  const auto dout = normal_floats(N * dim, 61);
  std::vector<float> want(N * dim), want_dt(N);
  cpu::timestep_embedding_forward(a, t.data(), want.data());
  cpu::timestep_embedding_backward(a, t.data(), dout.data(), want_dt.data());
  std::vector<double> scale(N * dim), scale_dt(N);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t i = 0; i < half; ++i) {
      const double f = std::exp(-std::log(10000.0) * i / half);
      const double arg = std::abs(t[n] * f);
      scale[n * dim + i] = scale[n * dim + half + i] = arg + 1;
      scale_dt[n] +=
          f * (std::abs(dout[n * dim + i]) + std::abs(dout[n * dim + half + i])) * (arg + 1);
    }
    if (dim % 2 == 1) scale[n * dim + dim - 1] = 0;  // exactly 0
  }
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(N * dim, NAN), got_dt(N, NAN);
    gpu::timestep_embedding_forward(a, t.data(), got.data(), nullptr);
    CHECK(within_eps(got, want, scale, 4));
    gpu::timestep_embedding_backward(a, t.data(), dout.data(), got_dt.data(), nullptr);
    CHECK(within_eps(got_dt, want_dt, scale_dt, static_cast<double>(half + 8)));
  });
}

TEST_CASE("emulated timestep embedding matches the CPU", "[emu][embedding]") {
  check_timestep(9, 64);   // the U-Net's base channels, more rows than a block's 8 warps
  check_timestep(5, 33);   // odd dim: the last column is 0 and gets no gradient
  check_timestep(3, 130);  // half > 32: lanes loop
  check_timestep(2, 1);    // half = 0: all zero
}

void check_embedding(int64_t N, int64_t V, int64_t D, const std::vector<int32_t>& pool) {
  INFO("N " << N << ", V " << V << ", D " << D);
  const EmbeddingArgs a{N, V, D};
  std::vector<int32_t> idx(N);
  for (int64_t n = 0; n < N; ++n) idx[n] = pool[(n * 7 + n / 3) % pool.size()];
  const auto table = normal_floats(V * D, 70), dout = normal_floats(N * D, 71);
  std::vector<float> want(N * D), want_dt(V * D, NAN);
  cpu::embedding_forward(a, table.data(), idx.data(), want.data());
  cpu::embedding_backward(a, idx.data(), dout.data(), want_dt.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(N * D, NAN), got_dt(V * D, NAN);
    gpu::embedding_forward(a, table.data(), idx.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, want));
    gpu::embedding_backward(a, idx.data(), dout.data(), got_dt.data(), nullptr);
    CHECK(bitwise_equal(got_dt, want_dt));
  });
  // Rows no index hits are zero.
  for (int64_t v = 0; v < V; ++v) {
    if (std::find(idx.begin(), idx.end(), v) != idx.end()) continue;
    for (int64_t d = 0; d < D; ++d) CHECK(want_dt[v * D + d] == 0.0f);
  }
}

TEST_CASE("emulated embedding lookup matches the CPU bitwise", "[emu][embedding]") {
  // Repeated and unused indices; N beyond one shared-memory chunk of indices (256).
  check_embedding(300, 10, 37, {0, 2, 3, 5, 9, 2, 2});
  // The label embedding: 3 labels (normal, pneumonia, null), batch 64.
  check_embedding(64, 3, 128, {0, 1, 2, 2});
  check_embedding(5, 4, 1, {3});
}

void check_mse(int64_t n) {
  INFO("n " << n);
  const auto x = normal_floats(n, 80), y = normal_floats(n, 81);
  float want = 0;
  cpu::mse_loss_forward(n, x.data(), y.data(), &want);
  const float dloss = 0.731f;
  std::vector<float> want_dx(n), want_dy(n);
  cpu::mse_loss_backward(n, x.data(), y.data(), dloss, want_dx.data(), want_dy.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got{NAN};
    gpu::mse_loss_forward(n, x.data(), y.data(), got.data(), nullptr);
    CHECK(within_eps(got, {want}, {std::abs(want)}, 2));
    std::vector<float> dx(n, NAN), dy(n, NAN);
    gpu::mse_loss_backward(n, x.data(), y.data(), &dloss, dx.data(), dy.data(), nullptr);
    CHECK(bitwise_equal(dx, want_dx));
    CHECK(bitwise_equal(dy, want_dy));
    std::vector<float> only(n, NAN);
    gpu::mse_loss_backward(n, x.data(), y.data(), &dloss, nullptr, only.data(), nullptr);
    CHECK(bitwise_equal(only, want_dy));
    only.assign(n, NAN);
    gpu::mse_loss_backward(n, x.data(), y.data(), &dloss, only.data(), nullptr, nullptr);
    CHECK(bitwise_equal(only, want_dx));
  });
}

TEST_CASE("emulated MSE loss matches the CPU on many blocks' worth", "[emu][embedding]") {
  check_mse(70000);
}

TEST_CASE("emulated MSE loss matches the CPU", "[emu][embedding]") {
  check_mse(1);
  check_mse(1000);
  check_mse(5000);  // beyond the CPU's 4,096-element blocks and the kernel's 512 threads
  // The mean of nothing is NaN on both sides.
  float want = 0, got = 0;
  cpu::mse_loss_forward<float>(0, nullptr, nullptr, &want);
  gpu::mse_loss_forward(0, nullptr, nullptr, &got, nullptr);
  CHECK(std::isnan(want));
  CHECK(std::isnan(got));
}

}  // namespace
}  // namespace ldm::test
