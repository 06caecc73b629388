// Views: reshape shares storage and passes gradients through unchanged in shape. It is not a
// kernel op (no backend runs anything), so it lives here rather than in LDM_OPS.
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

// Same data, new shape of equal numel; one dim may be -1 (inferred).
Tensor reshape(const Tensor& x, const Shape& shape);

}  // namespace ldm::ops
