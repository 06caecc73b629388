// Argument juggling that the CPU and CUDA adapters share: the ops whose backward reuses a
// forward copy with rewritten arguments.
#pragma once

#include <span>

#include "core/dispatch.h"
#include "kernels/args.h"

namespace ldm {

// Calls piece(args, i) for each concat input i with its size and offset along the dim filled in.
template <typename Piece>
void for_each_concat_piece(const OpCall& c, std::span<const Tensor> pieces, Piece&& piece) {
  kernels::ConcatSliceArgs a = c.args<kernels::ConcatSliceArgs>();
  a.start = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    a.dim_in = pieces[i].numel() / (a.outer * a.inner);
    piece(a, i);
    a.start += a.dim_in;
  }
}

// The permute that undoes `forward`: its input is the forward's output, and the inverse order
// sends that tensor's dim k back to dim order[k].
inline kernels::PermuteArgs inverse_permute(const kernels::PermuteArgs& forward) {
  kernels::PermuteArgs a;
  a.rank = forward.rank;
  for (int k = 0; k < forward.rank; ++k) {
    a.in_shape[k] = forward.in_shape[forward.order[k]];
    a.order[forward.order[k]] = k;
  }
  return a;
}

}  // namespace ldm
