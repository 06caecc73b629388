// ldm-opcheck runners for timestep_embedding (t; dim, max_period), embedding (table, i32
// indices) and mse_loss (a, b). Output: "out".
#include "core/ops.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {
namespace {

Outputs timestep_embedding(const Params& p, const Inputs& in) {
  return {{"out", ops::timestep_embedding(in.f32("t"), p.integer("dim"),
                                          p.number("max_period", 10000.0))}};
}

Outputs embedding(const Params&, const Inputs& in) {
  return {{"out", ops::embedding(in.f32("table"), in.i32("indices"))}};
}

Outputs mse_loss(const Params&, const Inputs& in) {
  return {{"out", ops::mse_loss(in.f32("a"), in.f32("b"))}};
}

}  // namespace

std::vector<RunnerEntry> embedding_runners() {
  return {
      {"timestep_embedding", timestep_embedding}, {"embedding", embedding}, {"mse_loss", mse_loss}};
}

}  // namespace ldm::opcheck
