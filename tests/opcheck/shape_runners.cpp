// ldm-opcheck runners for the data-movement ops: concat (x0 .. x{count-1} along dim), slice (x;
// dim, start, end), permute (x; order, an array), upsample_nearest (x; factor) and
// resize_bilinear (x; H_out, W_out). Output: "out".
#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {
namespace {

int dim_param(const Params& p) {
  return static_cast<int>(p.integer("dim"));
}

Outputs concat(const Params& p, const Inputs& in) {
  const int64_t count = p.integer("count");
  if (count < 1) fail("concat: count must be at least 1, not ", count);
  std::vector<Tensor> pieces;
  for (int64_t i = 0; i < count; ++i) {
    std::string name = "x";  // not "x" + to_string(i): GCC 12 warns falsely (-Wrestrict) on it
    name += std::to_string(i);
    pieces.push_back(in.f32(name));
  }
  return {{"out", ops::concat(pieces, dim_param(p))}};
}

Outputs slice(const Params& p, const Inputs& in) {
  return {{"out", ops::slice(in.f32("x"), dim_param(p), p.integer("start"), p.integer("end"))}};
}

Outputs permute(const Params& p, const Inputs& in) {
  std::vector<int> order;
  for (const int64_t d : p.integers("order")) order.push_back(static_cast<int>(d));
  return {{"out", ops::permute(in.f32("x"), order)}};
}

Outputs upsample_nearest(const Params& p, const Inputs& in) {
  return {{"out", ops::upsample_nearest(in.f32("x"), p.integer("factor"))}};
}

Outputs resize_bilinear(const Params& p, const Inputs& in) {
  return {{"out", ops::resize_bilinear(in.f32("x"), p.integer("H_out"), p.integer("W_out"))}};
}

}  // namespace

std::vector<RunnerEntry> shape_runners() {
  return {{"concat", concat},
          {"slice", slice},
          {"permute", permute},
          {"upsample_nearest", upsample_nearest},
          {"resize_bilinear", resize_bilinear}};
}

}  // namespace ldm::opcheck
