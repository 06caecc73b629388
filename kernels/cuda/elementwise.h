// CUDA scale, broadcasting add/mul, concat/slice/permute copies and resampling (as
// kernels/cpu/elementwise.h): memory-bound glue. Backward passes that sum over broadcast or
// upsampled elements gather (each output element is summed by one thread or one block in a
// fixed order) instead of scattering with atomics, so results are deterministic. Backward
// kernels overwrite their outputs and skip any gradient output passed as nullptr. Device
// pointers; launches go on `stream`.
#pragma once

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// y = alpha * x; x, y [a.n]. Also the backward (dx = alpha * dy).
void scale_forward(const ElementwiseArgs& a, const float* x, float* y, cudaStream_t stream);

// x [a_shape], y [b_shape] -> out [out_shape] (rank 6, broadcasting as kernels/args.h);
// dx [a_shape], dy [b_shape] get dout summed over the dims they were broadcast along.
void add_forward(const BroadcastArgs& a, const float* x, const float* y, float* out,
                 cudaStream_t stream);
void add_backward(const BroadcastArgs& a, const float* dout, float* dx, float* dy,
                  cudaStream_t stream);
void mul_forward(const BroadcastArgs& a, const float* x, const float* y, float* out,
                 cudaStream_t stream);
void mul_backward(const BroadcastArgs& a, const float* x, const float* y, const float* dout,
                  float* dx, float* dy, cudaStream_t stream);

// dst [outer, dim_out, inner] = src [outer, dim_in, inner][:, start:start + dim_out, :].
void slice_copy(const ConcatSliceArgs& a, const float* src, float* dst, cudaStream_t stream);
// dst [outer, dim_out, inner][:, start:start + dim_in, :] = src [outer, dim_in, inner]; the rest
// of dst is left untouched.
void insert_copy(const ConcatSliceArgs& a, const float* src, float* dst, cudaStream_t stream);
// dst = src permuted as kernels/args.h's PermuteArgs.
void permute_copy(const PermuteArgs& a, const float* src, float* dst, cudaStream_t stream);

// Nearest upsampling by integer factors: x, dx [N, C, H_in, W_in]; y, dy [N, C, H_out, W_out].
void upsample_nearest_forward(const ResizeArgs& a, const float* x, float* y, cudaStream_t stream);
void upsample_nearest_backward(const ResizeArgs& a, const float* dy, float* dx,
                               cudaStream_t stream);
// Bilinear resize as PyTorch interpolate(mode="bilinear", align_corners=False), any sizes.
void resize_bilinear_forward(const ResizeArgs& a, const float* x, float* y, cudaStream_t stream);
void resize_bilinear_backward(const ResizeArgs& a, const float* dy, float* dx,
                              cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
