// ldm-opcheck runners for the elementwise ops: silu, tanh, hardtanh, scale (input x) and the
// broadcasting add, mul (inputs a, b). Output: "out".
#include "core/ops.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {
namespace {

Outputs silu(const Params&, const Inputs& in) {
  return {{"out", ops::silu(in.f32("x"))}};
}

Outputs tanh(const Params&, const Inputs& in) {
  return {{"out", ops::tanh(in.f32("x"))}};
}

Outputs hardtanh(const Params& p, const Inputs& in) {
  return {{"out", ops::hardtanh(in.f32("x"), p.number("min_val", -1.0), p.number("max_val", 1.0))}};
}

Outputs scale(const Params& p, const Inputs& in) {
  return {{"out", ops::scale(in.f32("x"), p.number("alpha"))}};
}

Outputs add(const Params&, const Inputs& in) {
  return {{"out", ops::add(in.f32("a"), in.f32("b"))}};
}

Outputs mul(const Params&, const Inputs& in) {
  return {{"out", ops::mul(in.f32("a"), in.f32("b"))}};
}

}  // namespace

std::vector<RunnerEntry> elementwise_runners() {
  return {{"silu", silu},   {"tanh", tanh}, {"hardtanh", hardtanh},
          {"scale", scale}, {"add", add},   {"mul", mul}};
}

}  // namespace ldm::opcheck
