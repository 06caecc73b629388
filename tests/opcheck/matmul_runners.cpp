// ldm-opcheck runners for linear (x, w, optional b), matmul (a, b), softmax (x) and attention
// (q, k, v; param scale, where <= 0 or absent means 1/sqrt(D)). Output: "out".
#include "core/ops.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {
namespace {

Outputs linear(const Params&, const Inputs& in) {
  return {{"out", ops::linear(in.f32("x"), in.f32("w"), in.optional_f32("b"))}};
}

Outputs matmul(const Params&, const Inputs& in) {
  return {{"out", ops::matmul(in.f32("a"), in.f32("b"))}};
}

Outputs softmax(const Params&, const Inputs& in) {
  return {{"out", ops::softmax(in.f32("x"))}};
}

Outputs attention(const Params& p, const Inputs& in) {
  return {{"out", ops::attention(in.f32("q"), in.f32("k"), in.f32("v"), p.number("scale", 0.0))}};
}

}  // namespace

std::vector<RunnerEntry> matmul_runners() {
  return {{"linear", linear}, {"matmul", matmul}, {"softmax", softmax}, {"attention", attention}};
}

}  // namespace ldm::opcheck
