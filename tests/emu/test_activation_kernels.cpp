// kernels/cuda/activation.cu through the emulator against the CPU kernels, in every thread
// order. hardtanh must match bitwise. SiLU and tanh go through exp on both sides, libm's here
// and the CPU path's own vectorizable one (within 3 ulp), so they must agree within 8 float
// epsilons of |x| + |y| (+ 1 for the gradients, whose terms are O(1)).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/activation.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;

constexpr std::size_t kN = 1001;
constexpr uint64_t kOrderSeed = 11;

std::vector<float> spread_floats(uint64_t seed) {  // uniform in [-8, 8): both tails of exp
  return uniform_floats(kN, seed, -8.0f, 8.0f);
}

// 8 float epsilons of |x| + |want| + extra.
bool close(const std::vector<float>& got, const std::vector<float>& want,
           const std::vector<float>& x, double extra) {
  std::vector<double> scale(got.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    scale[i] = std::abs(x[i]) + std::abs(want[i]) + extra;
  }
  return within_eps(got, want, scale, 8);
}

TEST_CASE("emulated SiLU and tanh match the CPU", "[emu]") {
  const std::vector<float> x = spread_floats(1), dy = spread_floats(2);
  std::vector<float> silu(kN), dsilu(kN), tanh_y(kN), dtanh(kN);
  cpu::silu_forward(static_cast<int64_t>(kN), x.data(), silu.data());
  cpu::silu_backward(static_cast<int64_t>(kN), x.data(), dy.data(), dsilu.data());
  cpu::tanh_forward(static_cast<int64_t>(kN), x.data(), tanh_y.data());
  cpu::tanh_backward(static_cast<int64_t>(kN), tanh_y.data(), dy.data(), dtanh.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(kN);
    const int64_t n = static_cast<int64_t>(kN);
    gpu::silu_forward(n, x.data(), got.data(), nullptr);
    CHECK(close(got, silu, x, 0));
    gpu::silu_backward(n, x.data(), dy.data(), got.data(), nullptr);
    CHECK(close(got, dsilu, dy, 1));
    gpu::tanh_forward(n, x.data(), got.data(), nullptr);
    CHECK(close(got, tanh_y, x, 0));
    // The same y on both sides: the backward is then one rounding apart at most.
    gpu::tanh_backward(n, tanh_y.data(), dy.data(), got.data(), nullptr);
    CHECK(close(got, dtanh, dy, 1));
  });
}

TEST_CASE("emulated hardtanh matches the CPU bitwise", "[emu]") {
  std::vector<float> x = spread_floats(3);
  x[0] = -1.0f;  // the bounds themselves get no gradient
  x[1] = 1.0f;
  const std::vector<float> dy = spread_floats(4);
  const kernels::ElementwiseArgs a{static_cast<int64_t>(kN), 1.0, -1.0, 1.0};
  std::vector<float> y(kN), dx(kN);
  cpu::hardtanh_forward(a, x.data(), y.data());
  cpu::hardtanh_backward(a, x.data(), dy.data(), dx.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(kN);
    gpu::hardtanh_forward(a, x.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, y));
    gpu::hardtanh_backward(a, x.data(), dy.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, dx));
    CHECK(got[0] == 0.0f);
    CHECK(got[1] == 0.0f);
  });
}

}  // namespace
}  // namespace ldm::test
