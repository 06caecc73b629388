// Cases for vector quantization, the sampler steps and the update ops (AdamW, EMA).
#include <catch2/catch.hpp>

#include <cmath>

#include "core/rng.h"
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

// vector_quantize's gradients are defined by stop-gradients, not by its forward value:
//   z_q (straight-through):  d/dz_e is the identity;
//   loss = codebook + beta * commitment, both equal to mean((z_q - z_e)^2) in value, but the
//   codebook term only moves the codes and the commitment term only moves z_e.
// Each case therefore differentiates one input and names the function whose finite
// differences give the intended gradient. The argmin is locally constant (random normal
// inputs are never within the finite-difference step of a tie).
OpRunner vq_loss(double beta) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::vector_quantize(in[0], in[1], beta).loss};
  };
}
// For z_e: only the commitment term, beta / (1 + beta) of the loss value.
OpRunner vq_commitment(double beta) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::scale(ops::vector_quantize(in[0], in[1], beta).loss, beta / (1 + beta))};
  };
}
// For the codebook: only the codebook term, 1 / (1 + beta) of the loss value.
OpRunner vq_codebook_term(double beta) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::scale(ops::vector_quantize(in[0], in[1], beta).loss, 1 / (1 + beta))};
  };
}

kernels::DdpmStepArgs ddpm_coefficients() {
  kernels::DdpmStepArgs a;
  a.coef_x = 1.02;
  a.coef_eps = 0.13;
  a.sigma = 0.4;
  return a;
}

kernels::DdimStepArgs ddim_coefficients(double sigma) {
  kernels::DdimStepArgs a;
  a.alpha_bar_t = 0.35;
  a.alpha_bar_prev = 0.6;
  a.sigma = sigma;
  return a;
}

LDM_OP_CASES(std::vector<OpCase>{
    {OpKind::kVectorQuantize, "commitment gradient, K 7, D 3, odd grid",
     {normal("z_e", {2, 3, 5, 3}), fixed(normal("codebook", {7, 3}))}, vq_loss(0.25), 1e-4,
     vq_commitment(0.25)},
    {OpKind::kVectorQuantize, "codebook gradient, K 7, D 3, odd grid",
     {fixed(normal("z_e", {2, 3, 5, 3})), normal("codebook", {7, 3})}, vq_loss(0.25), 1e-4,
     vq_codebook_term(0.25)},
    {OpKind::kVectorQuantize, "codebook gradient, K 16, D 4, beta 1",
     {fixed(normal("z_e", {1, 4, 3, 3})), normal("codebook", {16, 4})}, vq_loss(1.0), 1e-4,
     vq_codebook_term(1.0)},
    {OpKind::kVectorQuantize, "straight-through z_q",
     {normal("z_e", {2, 3, 3, 5}), fixed(normal("codebook", {9, 3}))},
     [](std::span<const Tensor> in) {
       return std::vector<Tensor>{ops::vector_quantize(in[0], in[1]).z_q};
     },
     1e-4, [](std::span<const Tensor> in) { return std::vector<Tensor>{in[0]}; }},
    {OpKind::kCfgCombine, "scale 3", {normal("eps_both", {4, 3, 5, 3})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::cfg_combine(in[0], 3.0)}; }},
    {OpKind::kCfgCombine, "scale 0 (unconditional)", {normal("eps_both", {2, 7})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::cfg_combine(in[0], 0.0)}; }},
    {OpKind::kDdpmStep, "with noise",
     {normal("x_t", {2, 3, 4, 5}), normal("eps", {2, 3, 4, 5}), normal("noise", {2, 3, 4, 5})},
     [](std::span<const Tensor> in) {
       return std::vector<Tensor>{ops::ddpm_step(in[0], in[1], in[2], ddpm_coefficients())};
     }},
    {OpKind::kDdpmStep, "last step, no noise", {normal("x_t", {3, 7}), normal("eps", {3, 7})},
     [](std::span<const Tensor> in) {
       auto a = ddpm_coefficients();
       a.sigma = 0;
       return std::vector<Tensor>{ops::ddpm_step(in[0], in[1], Tensor(), a)};
     }},
    {OpKind::kDdimStep, "eta 0 (deterministic)", {normal("x_t", {2, 3, 5}), normal("eps", {2, 3, 5})},
     [](std::span<const Tensor> in) {
       return std::vector<Tensor>{ops::ddim_step(in[0], in[1], Tensor(), ddim_coefficients(0))};
     }},
    {OpKind::kDdimStep, "stochastic",
     {normal("x_t", {2, 3, 5}), normal("eps", {2, 3, 5}), normal("noise", {2, 3, 5})},
     [](std::span<const Tensor> in) {
       return std::vector<Tensor>{ops::ddim_step(in[0], in[1], in[2], ddim_coefficients(0.3))};
     }},
});

// Plain double-precision AdamW (PyTorch's formula) for comparison.
void adamw_reference(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& m,
                     std::vector<double>& v, const kernels::AdamWArgs& a) {
  const double bc1 = 1 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1 - std::pow(a.beta2, static_cast<double>(a.step));
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1 - a.lr * a.weight_decay;
    m[i] = a.beta1 * m[i] + (1 - a.beta1) * g[i];
    v[i] = a.beta2 * v[i] + (1 - a.beta2) * g[i] * g[i];
    p[i] -= a.lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + a.eps);
  }
}

void check_close(const Tensor& got, const std::vector<double>& expected, double tol) {
  const auto values = got.to_vector<double>();
  REQUIRE(values.size() == expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(values[i] - expected[i]) <= tol * (1 + std::abs(expected[i])));
  }
}

void check_adamw(DType dtype, double tol) {
  Rng rng{42, 0, 0};
  const Shape shape{3, 37};
  Tensor p = rng.normal(shape, 0, 1, DType::kF64).to(dtype);
  Tensor m = Tensor::zeros(shape, dtype), v = Tensor::zeros(shape, dtype);
  auto rp = p.to_vector<double>(), rm = m.to_vector<double>(), rv = v.to_vector<double>();
  kernels::AdamWArgs a;
  a.lr = 3e-3;
  a.weight_decay = 0.05;
  for (int64_t step = 1; step <= 5; ++step) {
    Tensor g = rng.normal(shape, 0, 1, DType::kF64).to(dtype);
    a.step = step;
    ops::adamw_step(p, g, m, v, a);
    adamw_reference(rp, g.to_vector<double>(), rm, rv, a);
  }
  check_close(p, rp, tol);
  check_close(m, rm, tol);
  check_close(v, rv, tol);
}

void check_ema(DType dtype, double tol) {
  Rng rng{7, 0, 0};
  Tensor ema = rng.normal({41}, 0, 1, DType::kF64).to(dtype);
  auto expected = ema.to_vector<double>();
  for (int i = 0; i < 3; ++i) {
    Tensor param = rng.normal({41}, 0, 1, DType::kF64).to(dtype);
    ops::ema_update(ema, param, 0.9);
    const auto pv = param.to_vector<double>();
    for (size_t j = 0; j < expected.size(); ++j) expected[j] = 0.9 * expected[j] + 0.1 * pv[j];
  }
  check_close(ema, expected, tol);
}

// Double runs the same formula as the reference: only rounding differs. Float: a few steps of
// O(1) values, each step a handful of roundings of relative size 6e-8.
LDM_OP_CASES(std::vector<ReferenceCase>{
    {OpKind::kAdamwStep, "5 steps, f64", [] { check_adamw(DType::kF64, 1e-12); }},
    {OpKind::kAdamwStep, "5 steps, f32", [] { check_adamw(DType::kF32, 2e-6); }, DType::kF32},
    {OpKind::kEmaUpdate, "3 updates, f64", [] { check_ema(DType::kF64, 1e-14); }},
    {OpKind::kEmaUpdate, "3 updates, f32", [] { check_ema(DType::kF32, 1e-6); }, DType::kF32},
});

}  // namespace
}  // namespace ldm::test
