// CPU conv2d and conv_transpose2d (NCHW, PyTorch semantics: no dilation, no groups, output
// padding 0). A 3x3 conv2d with stride 1, padding 1 and 16+ channels on both sides (most of the
// U-Net's and VQ-VAE's) runs Winograd F(2x2, 3x3) (winograd.h). Every other pass is im2col /
// col2im around OpenBLAS gemms over chunks of the batch, so the batch, not the small spatial
// size, fills the gemm's wide dimension; the batch is split into a fixed number of parts that
// run in parallel. Either way results do not depend on the thread count.
#pragma once

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// x [N, C_in, H_in, W_in], w [C_out, C_in, K, K], bias [C_out] or nullptr
// -> y [N, C_out, H_out, W_out]. H_out = (H_in + 2p - K) / s + 1, filled in by the caller.
// The bias pointer decides whether a bias is added (a.has_bias is not consulted).
template <typename T>
void conv2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y);

// x, w as above, dy [N, C_out, H_out, W_out] -> dx [N, C_in, H_in, W_in], dw [C_out, C_in, K, K],
// db [C_out]. Outputs are overwritten; any of them may be nullptr (not computed).
template <typename T>
void conv2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db);

// x [N, C_in, H_in, W_in], w [C_in, C_out, K, K], bias [C_out] or nullptr
// -> y [N, C_out, H_out, W_out], H_out = (H_in - 1) * s - 2p + K. The adjoint of conv2d.
template <typename T>
void conv_transpose2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y);

// x, w as above, dy [N, C_out, H_out, W_out] -> dx [N, C_in, H_in, W_in], dw [C_in, C_out, K, K],
// db [C_out]. Outputs are overwritten; any of them may be nullptr (not computed).
template <typename T>
void conv_transpose2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* db);

}  // namespace ldm::kernels::cpu
