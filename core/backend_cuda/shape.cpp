// CUDA adapters for concat, slice, permute and resampling.
#include "core/backend_common.h"
#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"
#include "kernels/cuda/elementwise.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

namespace k = kernels::cuda;
using kernels::ConcatSliceArgs;
using kernels::PermuteArgs;
using kernels::ResizeArgs;

void concat_forward(const OpCall& c) {
  require_f32(c, "concat");
  for_each_concat_piece(c, c.in, [&](const ConcatSliceArgs& a, size_t i) {
    k::insert_copy(a, in_f32(c, i), out_f32(c, 0), stream());
  });
}

void concat_backward(const OpCall& c) {
  for_each_concat_piece(c, c.out, [&](ConcatSliceArgs a, size_t i) {
    if (!c.out[i].defined()) return;
    // Reading a piece back out of the concatenation is a slice of it.
    a.dim_out = a.dim_in;
    a.dim_in = c.args<ConcatSliceArgs>().dim_out;
    k::slice_copy(a, in_f32(c, 0), out_f32(c, i), stream());
  });
}

void slice_forward(const OpCall& c) {
  require_f32(c, "slice");
  k::slice_copy(c.args<ConcatSliceArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}

void slice_backward(const OpCall& c) {
  // dx is zero outside the slice; the slice's gradient goes back into its place.
  const ConcatSliceArgs& s = c.args<ConcatSliceArgs>();
  ConcatSliceArgs a = s;
  a.dim_in = s.dim_out;
  a.dim_out = s.dim_in;
  zero_bytes(c.out[0].raw_data(), c.out[0].device(), c.out[0].nbytes());
  k::insert_copy(a, in_f32(c, 0), out_f32(c, 0), stream());
}

void permute_forward(const OpCall& c) {
  require_f32(c, "permute");
  k::permute_copy(c.args<PermuteArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}

void permute_backward(const OpCall& c) {
  // dx is dy permuted back.
  k::permute_copy(inverse_permute(c.args<PermuteArgs>()), in_f32(c, 0), out_f32(c, 0), stream());
}

void upsample_nearest_forward(const OpCall& c) {
  require_f32(c, "upsample_nearest");
  k::upsample_nearest_forward(c.args<ResizeArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}
void upsample_nearest_backward(const OpCall& c) {
  k::upsample_nearest_backward(c.args<ResizeArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}

void resize_bilinear_forward(const OpCall& c) {
  require_f32(c, "resize_bilinear");
  k::resize_bilinear_forward(c.args<ResizeArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}
void resize_bilinear_backward(const OpCall& c) {
  k::resize_bilinear_backward(c.args<ResizeArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
