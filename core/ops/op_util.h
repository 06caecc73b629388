// Small helpers shared by the op wrappers in core/ops.
#pragma once

#include <span>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/tensor.h"

namespace ldm::ops {

// An uninitialized gradient buffer shaped like `input` when it needs a gradient; otherwise an
// undefined tensor, which tells the backward kernel to skip that work.
inline Tensor grad_buffer_for(const Tensor& input) {
  return input.defined() && input.requires_grad() ? Tensor::empty_like(input) : Tensor();
}

// Records one op on the tape when any input requires grad (and grad mode is on).
template <typename Backward>
void record_if_needed(OpKind op, std::initializer_list<Tensor> inputs,
                      std::initializer_list<Tensor> outputs, Backward&& backward) {
  const std::span<const Tensor> in(inputs.begin(), inputs.size());
  if (!needs_grad(in)) return;
  std::vector<Tensor> out(outputs);
  record_node(op_name(op), in, out, BackwardFn(std::forward<Backward>(backward)));
}

}  // namespace ldm::ops
