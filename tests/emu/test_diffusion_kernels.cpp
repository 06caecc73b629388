// kernels/cuda/diffusion.cu through the emulator against the CPU kernels, in every thread
// order, on a size that is not a multiple of the block and on one that needs the grid-stride
// loop. Gradients (one multiply each) must match bitwise. Forward values are sums of two or
// three products, which GCC may contract into FMAs differently in the two builds (-ffp-contract
// =fast is its C++ default), so each may differ by the rounding of its terms: at most 4 float
// epsilons of the sum of the terms' magnitudes.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kernels/coefficients.h"
#include "kernels/cpu/diffusion.h"
#include "kernels/cuda/diffusion.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::CfgCombineArgs;
using kernels::DdimStepArgs;
using kernels::DdpmStepArgs;

// |cx x| + |ce e| + |cn noise| per element.
std::vector<double> step_terms(double cx, const std::vector<float>& x, double ce,
                               const std::vector<float>& e, double cn,
                               const std::vector<float>& noise) {
  std::vector<double> t(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    t[i] = std::abs(cx * x[i]) + std::abs(ce * e[i]) + std::abs(cn * noise[i]);
  }
  return t;
}

// 1,001 elements: four blocks of 256, the last one partial. 300,007: more than the 1,024
// blocks of 256 that grid_for allows, so every thread loops (not under TSan, which takes about
// a minute for its 260,000 fibers: sanitizer builds run small shapes).
#if defined(__SANITIZE_THREAD__)
constexpr std::size_t kSizes[] = {1001};
#else
constexpr std::size_t kSizes[] = {1001, 300007};
#endif

constexpr uint64_t kOrderSeed = 5;

TEST_CASE("emulated cfg_combine matches the CPU", "[emu]") {
  for (std::size_t n : kSizes) {
    const auto eps_both = normal_floats(2 * n, 1);
    const auto dout = normal_floats(n, 2);
    const CfgCombineArgs a{static_cast<int64_t>(n), 3.0};
    std::vector<float> want(n), want_grad(2 * n);
    cpu::cfg_combine_forward(a, eps_both.data(), want.data());
    cpu::cfg_combine_backward(a, dout.data(), want_grad.data());
    std::vector<double> terms(n);
    for (std::size_t i = 0; i < n; ++i) {
      terms[i] = std::abs(eps_both[n + i]) + std::abs(3.0 * (eps_both[i] - eps_both[n + i]));
    }
    for_each_order(kOrderSeed, [&] {
      std::vector<float> got(n), got_grad(2 * n);
      gpu::cfg_combine_forward(a, eps_both.data(), got.data(), nullptr);
      gpu::cfg_combine_backward(a, dout.data(), got_grad.data(), nullptr);
      CHECK(within_eps(got, want, terms, 4));
      CHECK(bitwise_equal(got_grad, want_grad));
    });
  }
}

TEST_CASE("emulated DDPM and DDIM steps match the CPU", "[emu]") {
  for (std::size_t n : kSizes) {
    const auto x_t = normal_floats(n, 3), eps = normal_floats(n, 4), noise = normal_floats(n, 5);
    const auto dout = normal_floats(n, 6);
    const DdpmStepArgs ddpm{static_cast<int64_t>(n), 1.0101, 0.0421, 0.1378};
    const DdimStepArgs ddim{static_cast<int64_t>(n), 0.3, 0.45, 0.21};
    const DdimStepArgs ddim_eta0{static_cast<int64_t>(n), 0.3, 0.45, 0.0};
    std::vector<float> want_ddpm(n), want_ddim(n), want_eta0(n);
    cpu::ddpm_step_forward(ddpm, x_t.data(), eps.data(), noise.data(), want_ddpm.data());
    cpu::ddim_step_forward(ddim, x_t.data(), eps.data(), noise.data(), want_ddim.data());
    cpu::ddim_step_forward(ddim_eta0, x_t.data(), eps.data(), noise.data(), want_eta0.data());
    std::vector<float> w_dx(n), w_de(n), w_dn(n), v_dx(n), v_de(n), v_dn(n);
    cpu::ddpm_step_backward(ddpm, dout.data(), w_dx.data(), w_de.data(), w_dn.data());
    cpu::ddim_step_backward(ddim, dout.data(), v_dx.data(), v_de.data(), v_dn.data());
    const auto [dx_c, de_c] = kernels::ddim_step_coefs(ddim);
    const auto [dx0_c, de0_c] = kernels::ddim_step_coefs(ddim_eta0);
    const auto ddpm_terms = step_terms(ddpm.coef_x, x_t, ddpm.coef_eps, eps, ddpm.sigma, noise);
    const auto ddim_terms = step_terms(dx_c, x_t, de_c, eps, ddim.sigma, noise);
    const auto eta0_terms = step_terms(dx0_c, x_t, de0_c, eps, 0.0, noise);
    for_each_order(kOrderSeed, [&] {
      std::vector<float> got(n);
      gpu::ddpm_step_forward(ddpm, x_t.data(), eps.data(), noise.data(), got.data(), nullptr);
      CHECK(within_eps(got, want_ddpm, ddpm_terms, 4));
      gpu::ddim_step_forward(ddim, x_t.data(), eps.data(), noise.data(), got.data(), nullptr);
      CHECK(within_eps(got, want_ddim, ddim_terms, 4));
      // sigma = 0: the noise is never read, so it may be null.
      gpu::ddim_step_forward(ddim_eta0, x_t.data(), eps.data(), nullptr, got.data(), nullptr);
      CHECK(within_eps(got, want_eta0, eta0_terms, 4));
      std::vector<float> dx(n), de(n), dn(n);
      gpu::ddpm_step_backward(ddpm, dout.data(), dx.data(), de.data(), dn.data(), nullptr);
      CHECK(bitwise_equal(dx, w_dx));
      CHECK(bitwise_equal(de, w_de));
      CHECK(bitwise_equal(dn, w_dn));
      gpu::ddim_step_backward(ddim, dout.data(), dx.data(), de.data(), nullptr, nullptr);
      CHECK(bitwise_equal(dx, v_dx));
      CHECK(bitwise_equal(de, v_de));
    });
  }
}

TEST_CASE("the fused CFG + step kernels equal cfg_combine then the step on the CPU", "[emu]") {
  const std::size_t n = 1001;
  const auto x_t = normal_floats(n, 7), eps_both = normal_floats(2 * n, 8);
  const auto noise = normal_floats(n, 9);
  const CfgCombineArgs cfg{static_cast<int64_t>(n), 7.0};
  const DdpmStepArgs ddpm{static_cast<int64_t>(n), 1.0101, 0.0421, 0.1378};
  const DdimStepArgs ddim{static_cast<int64_t>(n), 0.3, 0.45, 0.0};
  std::vector<float> eps(n), want_ddpm(n), want_ddim(n);
  cpu::cfg_combine_forward(cfg, eps_both.data(), eps.data());
  cpu::ddpm_step_forward(ddpm, x_t.data(), eps.data(), noise.data(), want_ddpm.data());
  cpu::ddim_step_forward(ddim, x_t.data(), eps.data(), noise.data(), want_ddim.data());
  // The guided eps is itself a rounded sum (|eps_u| + 7 |eps_c - eps_u|), scaled by ce.
  std::vector<double> guided(n);
  for (std::size_t i = 0; i < n; ++i) {
    guided[i] = std::abs(eps_both[n + i]) + 7.0 * std::abs(eps_both[i] - eps_both[n + i]);
  }
  std::vector<double> ddpm_terms(n), ddim_terms(n);
  const auto [cx, ce] = kernels::ddim_step_coefs(ddim);
  for (std::size_t i = 0; i < n; ++i) {
    ddpm_terms[i] = std::abs(ddpm.coef_x * x_t[i]) + ddpm.coef_eps * guided[i] +
                    ddpm.sigma * std::abs(noise[i]);
    ddim_terms[i] = std::abs(cx * x_t[i]) + std::abs(ce) * guided[i];
  }
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(n);
    gpu::ddpm_step_cfg_forward(cfg, ddpm, x_t.data(), eps_both.data(), noise.data(), got.data(),
                               nullptr);
    CHECK(within_eps(got, want_ddpm, ddpm_terms, 4));
    gpu::ddim_step_cfg_forward(cfg, ddim, x_t.data(), eps_both.data(), noise.data(), got.data(),
                               nullptr);
    CHECK(within_eps(got, want_ddim, ddim_terms, 4));
  });
}

}  // namespace
}  // namespace ldm::test
