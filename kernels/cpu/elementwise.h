// CPU elementwise, broadcasting, copy and resampling kernels: the memory-bound glue between the
// compute-heavy ops. All tensors are contiguous; backward kernels overwrite their outputs and
// skip any gradient output passed as nullptr.
#pragma once

#include <cstdint>

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// Activations on n contiguous values. x, y, dy, dx: [n]. y may alias x and dx may alias dy.
// SiLU and tanh use a vectorizable exp (within 3 ulp of the exact function), not libm.
template <typename T>
void silu_forward(int64_t n, const T* x, T* y);
template <typename T>
void silu_backward(int64_t n, const T* x, const T* dy, T* dx);
template <typename T>
void tanh_forward(int64_t n, const T* x, T* y);
// y is the forward output (tanh' = 1 - y^2), so the input need not be saved.
template <typename T>
void tanh_backward(int64_t n, const T* y, const T* dy, T* dx);
// y = clamp(x, min_val, max_val); x, y: [a.n].
template <typename T>
void hardtanh_forward(const ElementwiseArgs& a, const T* x, T* y);
// dx = dy where min_val < x < max_val, else 0 (PyTorch: the bounds themselves get no gradient).
template <typename T>
void hardtanh_backward(const ElementwiseArgs& a, const T* x, const T* dy, T* dx);
// y = alpha * x; x, y: [a.n]. Also the backward (dx = alpha * dy).
template <typename T>
void scale_forward(const ElementwiseArgs& a, const T* x, T* y);

// Broadcasting binary ops: x [a_shape], y [b_shape], out/dout [out_shape] (rank 6, every dim of
// a_shape/b_shape equals out_shape's or is 1). dx [a_shape] and dy [b_shape] get dout summed
// over the dims they were broadcast along.
template <typename T>
void add_forward(const BroadcastArgs& a, const T* x, const T* y, T* out);
template <typename T>
void add_backward(const BroadcastArgs& a, const T* dout, T* dx, T* dy);
template <typename T>
void mul_forward(const BroadcastArgs& a, const T* x, const T* y, T* out);
template <typename T>
void mul_backward(const BroadcastArgs& a, const T* x, const T* y, const T* dout, T* dx, T* dy);

// dst [outer, dim_out, inner] = src [outer, dim_in, inner][:, start:start + dim_out, :].
template <typename T>
void slice_copy(const ConcatSliceArgs& a, const T* src, T* dst);
// dst [outer, dim_out, inner][:, start:start + dim_in, :] = src [outer, dim_in, inner]; the rest
// of dst is left untouched (concat = one insert_copy per input).
template <typename T>
void insert_copy(const ConcatSliceArgs& a, const T* src, T* dst);

// dst = src permuted: src [a.in_shape] and dst [in_shape[order[0]], ..., in_shape[order[rank-1]]],
// both contiguous. The backward is the same copy with the inverse order.
template <typename T>
void permute_copy(const PermuteArgs& a, const T* src, T* dst);

// Nearest upsampling by integer factors H_out / H_in and W_out / W_in (exact multiples):
// x, dx [N, C, H_in, W_in]; y, dy [N, C, H_out, W_out].
template <typename T>
void upsample_nearest_forward(const ResizeArgs& a, const T* x, T* y);
template <typename T>
void upsample_nearest_backward(const ResizeArgs& a, const T* dy, T* dx);

// Bilinear resize as PyTorch interpolate(mode="bilinear", align_corners=False), any sizes (up or
// down): x, dx [N, C, H_in, W_in]; y, dy [N, C, H_out, W_out].
template <typename T>
void resize_bilinear_forward(const ResizeArgs& a, const T* x, T* y);
template <typename T>
void resize_bilinear_backward(const ResizeArgs& a, const T* dy, T* dx);

}  // namespace ldm::kernels::cpu
