// kernels/cuda/optim.cu through the emulator against the CPU kernels, over several steps, in
// every thread order. Each value may differ by the rounding of its terms, because GCC may
// contract a product and a sum into an FMA in either build (see test_diffusion_kernels.cpp):
// m, v and the EMA within 4 float epsilons of the sum of their terms' magnitudes, the parameter
// within 8 (its update divides by sqrt(v) + eps, which carries v's rounding).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kernels/coefficients.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/optim.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

using kernels::AdamWArgs;
using kernels::EmaArgs;

TEST_CASE("emulated AdamW matches the CPU over several steps", "[emu]") {
  const std::size_t n = 1001;
  for_each_order(9, [&] {
    std::vector<float> p_cpu = normal_floats(n, 1), m_cpu(n, 0.0f), v_cpu(n, 0.0f);
    std::vector<float> p_emu = p_cpu, m_emu = m_cpu, v_emu = v_cpu;
    for (int64_t step = 1; step <= 5; ++step) {
      // Both sides start each step from the CPU's state, so that the tolerance is one step's.
      p_emu = p_cpu;
      m_emu = m_cpu;
      v_emu = v_cpu;
      const std::vector<float> grad = normal_floats(n, 100 + static_cast<uint64_t>(step), 0.1f);
      const AdamWArgs a{static_cast<int64_t>(n), 2e-3, 0.9, 0.999, 1e-8, 0.01, step};
      std::vector<double> m_bound(n), v_bound(n), p_bound(n);
      const kernels::AdamWCoefs<double> c = kernels::adamw_coefs<double>(a);
      for (std::size_t i = 0; i < n; ++i) {
        const double g = grad[i];
        m_bound[i] = std::abs(a.beta1 * m_cpu[i]) + std::abs((1 - a.beta1) * g);
        v_bound[i] = std::abs(a.beta2 * v_cpu[i]) + (1 - a.beta2) * g * g;
        const double mi = a.beta1 * m_cpu[i] + (1 - a.beta1) * g;
        const double vi = a.beta2 * v_cpu[i] + (1 - a.beta2) * g * g;
        p_bound[i] = std::abs(p_cpu[i] * (1 - a.lr * a.weight_decay)) +
                     std::abs(c.step_size * mi / (std::sqrt(vi) / c.bc2_sqrt + a.eps));
      }
      kernels::cpu::adamw_step(a, p_cpu.data(), grad.data(), m_cpu.data(), v_cpu.data());
      kernels::cuda::adamw_step(a, p_emu.data(), grad.data(), m_emu.data(), v_emu.data(), nullptr);
      INFO("step " << step);
      CHECK(within_eps(m_emu, m_cpu, m_bound, 4));
      CHECK(within_eps(v_emu, v_cpu, v_bound, 4));
      CHECK(within_eps(p_emu, p_cpu, p_bound, 8));
    }
  });
}

TEST_CASE("emulated EMA matches the CPU", "[emu]") {
  const std::size_t n = 1001;
  const std::vector<float> param = normal_floats(n, 2);
  const std::vector<float> start = normal_floats(n, 3);
  const EmaArgs a{static_cast<int64_t>(n), 0.999};
  std::vector<float> ema_cpu = start;
  kernels::cpu::ema_update(a, ema_cpu.data(), param.data());
  std::vector<double> bound(n);
  for (std::size_t i = 0; i < n; ++i) {
    bound[i] = std::abs(a.decay * start[i]) + std::abs((1 - a.decay) * param[i]);
  }
  for_each_order(9, [&] {
    std::vector<float> ema_emu = start;
    kernels::cuda::ema_update(a, ema_emu.data(), param.data(), nullptr);
    CHECK(within_eps(ema_emu, ema_cpu, bound, 4));
  });
}

}  // namespace
}  // namespace ldm::test
