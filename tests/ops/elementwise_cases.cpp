// Cases for the elementwise ops: activations, scale, broadcasting add and mul.
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

using ops::add;
using ops::mul;

// One-input op runner.
OpRunner unary(Tensor (*f)(const Tensor&)) {
  return [f](std::span<const Tensor> in) { return std::vector<Tensor>{f(in[0])}; };
}

LDM_OP_CASES(std::vector<OpCase>{
    {OpKind::kSilu, "odd 2x3x5x7", {normal("x", {2, 3, 5, 7})}, unary(&ops::silu)},
    {OpKind::kSilu, "large magnitudes", {uniform("x", {37}, -12, 12)}, unary(&ops::silu)},
    {OpKind::kTanh, "odd 3x5x7", {normal("x", {3, 5, 7})}, unary(&ops::tanh)},
    {OpKind::kTanh, "saturating", {uniform("x", {41}, -6, 6)}, unary(&ops::tanh)},
    // Inputs stay clear of the kinks at +-1 by more than the finite-difference step.
    {OpKind::kHardtanh, "mixed in/out of range", {uniform("x", {2, 3, 5, 7}, -3, 3)},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::hardtanh(in[0])}; }},
    {OpKind::kHardtanh, "custom bounds", {uniform("x", {4, 9}, -1, 1)},
     [](std::span<const Tensor> in) {
       return std::vector<Tensor>{ops::hardtanh(in[0], -0.25, 0.5)};
     }},
    {OpKind::kScale, "odd", {normal("x", {3, 7, 5})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::scale(in[0], -1.75)}; }},
    {OpKind::kAdd, "same shape", {normal("a", {2, 3, 5, 7}), normal("b", {2, 3, 5, 7})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{add(in[0], in[1])}; }},
    {OpKind::kAdd, "per-channel bias [N,C,1,1]", {normal("a", {3, 4, 5, 3}), normal("b", {3, 4, 1, 1})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{add(in[0], in[1])}; }},
    {OpKind::kAdd, "both sides broadcast", {normal("a", {3, 1, 5}), normal("b", {1, 4, 1})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{add(in[0], in[1])}; }},
    {OpKind::kAdd, "lower rank operand", {normal("a", {2, 3, 4}), normal("b", {4})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{add(in[0], in[1])}; }},
    {OpKind::kMul, "same shape", {normal("a", {2, 3, 5, 7}), normal("b", {2, 3, 5, 7})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{mul(in[0], in[1])}; }},
    {OpKind::kMul, "per-channel scale [N,C,1,1]", {normal("a", {3, 4, 5, 3}), normal("b", {3, 4, 1, 1})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{mul(in[0], in[1])}; }},
    {OpKind::kMul, "both sides broadcast", {normal("a", {3, 1, 5}), normal("b", {1, 4, 1})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{mul(in[0], in[1])}; }},
});

}  // namespace
}  // namespace ldm::test
