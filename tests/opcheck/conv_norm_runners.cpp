// ldm-opcheck runners for conv2d, conv_transpose2d and group_norm.
// Inputs: x, w, optional b (conv); x, gamma, beta (group_norm). Output: "out".
#include "core/ops.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {
namespace {

Outputs conv2d(const Params& p, const Inputs& in) {
  return {{"out", ops::conv2d(in.f32("x"), in.f32("w"), in.optional_f32("b"), p.integer("stride"),
                              p.integer("padding"))}};
}

Outputs conv_transpose2d(const Params& p, const Inputs& in) {
  return {{"out", ops::conv_transpose2d(in.f32("x"), in.f32("w"), in.optional_f32("b"),
                                        p.integer("stride"), p.integer("padding"))}};
}

Outputs group_norm(const Params& p, const Inputs& in) {
  return {{"out", ops::group_norm(in.f32("x"), in.f32("gamma"), in.f32("beta"), p.integer("groups"),
                                  p.number("eps", 1e-5))}};
}

}  // namespace

std::vector<RunnerEntry> conv_norm_runners() {
  return {{"conv2d", conv2d}, {"conv_transpose2d", conv_transpose2d}, {"group_norm", group_norm}};
}

}  // namespace ldm::opcheck
