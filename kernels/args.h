// Plain shape/argument structs shared by every kernel backend. No Tensor, no tape: kernels see
// raw pointers plus one of these. core/ fills them in after validating user-visible shapes.
#pragma once

#include <cstdint>

namespace ldm::kernels {

// conv2d and conv_transpose2d, NCHW. For conv2d, (H, W) is the input size and (H_out, W_out)
// the output size; for conv_transpose2d the roles flip (input is H_in x W_in, output larger).
// Weights: conv2d [C_out, C_in, K, K]; conv_transpose2d [C_in, C_out, K, K] (PyTorch layout).
struct Conv2dArgs {
  int64_t N = 0, C_in = 0, H_in = 0, W_in = 0;
  int64_t C_out = 0, H_out = 0, W_out = 0;
  int64_t kernel = 1, stride = 1, padding = 0;
  bool has_bias = true;
};

// group_norm over x [N, C, H, W] (HW = H * W), gamma/beta [C].
struct GroupNormArgs {
  int64_t N = 0, C = 0, HW = 0, groups = 1;
  double eps = 1e-5;
};

// Elementwise op on n contiguous values.
struct ElementwiseArgs {
  int64_t n = 0;
  double alpha = 1.0;   // scale: y = alpha * x
  double min_val = -1.0, max_val = 1.0;  // hardtanh bounds
};

// Broadcasting binary op (add, mul) on tensors of equal rank <= 6; a dim of size 1 in a or b
// broadcasts against the other. Shapes are padded on the left to rank 6.
struct BroadcastArgs {
  static constexpr int kMaxRank = 6;
  int64_t a_shape[kMaxRank] = {1, 1, 1, 1, 1, 1};
  int64_t b_shape[kMaxRank] = {1, 1, 1, 1, 1, 1};
  int64_t out_shape[kMaxRank] = {1, 1, 1, 1, 1, 1};
};

// concat / slice along one dim of a contiguous tensor, seen as [outer, dim, inner].
struct ConcatSliceArgs {
  int64_t outer = 1, inner = 1;
  int64_t dim_in = 0;    // slice: size of the dim in the source; concat: size of this input
  int64_t dim_out = 0;   // slice: size of the dim in the result; concat: size in the result
  int64_t start = 0;     // offset of this piece along the dim in the larger tensor
};

// permute of a contiguous tensor into a contiguous result: out.shape[k] = in_shape[order[k]],
// rank 1..6 (torch.permute(...).contiguous()). `order` is a permutation of 0..rank-1.
struct PermuteArgs {
  static constexpr int kMaxRank = 6;
  int rank = 0;
  int64_t in_shape[kMaxRank] = {1, 1, 1, 1, 1, 1};
  int order[kMaxRank] = {0, 1, 2, 3, 4, 5};
};

// Resampling of x [N, C, H_in, W_in] -> [N, C, H_out, W_out]. Nearest upsample uses an integer
// factor; bilinear matches PyTorch interpolate(mode="bilinear", align_corners=False).
struct ResizeArgs {
  int64_t N = 0, C = 0, H_in = 0, W_in = 0, H_out = 0, W_out = 0;
};

// linear: y[M, N] = x[M, K] * W[N, K]^T + b[N]. matmul: batched c[B, M, N] = a[B, M, K] b[B, K, N].
struct MatmulArgs {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  bool has_bias = false;
};

// softmax over the last dim of [rows, cols].
struct SoftmaxArgs {
  int64_t rows = 0, cols = 0;
};

// Scaled dot-product attention: q, k, v, out [B, heads, L, D] flattened to [BH, L, D].
struct AttentionArgs {
  int64_t BH = 0, L = 0, D = 0;
  double scale = 1.0;  // usually 1/sqrt(D)
};

// Sinusoidal timestep embedding: t [N] -> [N, dim], first half sin, second half cos,
// freq_i = max_period^(-i / half).
struct TimestepEmbeddingArgs {
  int64_t N = 0, dim = 0;
  double max_period = 10000.0;
};

// Embedding lookup: table [V, D], indices [N] (int32) -> [N, D].
struct EmbeddingArgs {
  int64_t N = 0, V = 0, D = 0;
};

// Vector quantization of z_e [N, D, H, W] (one D-vector per pixel) against codebook [K, D].
// loss = mean((sg(z_q) - z_e)^2) * beta + mean((z_q - sg(z_e))^2), mean over N*D*H*W.
struct VectorQuantizeArgs {
  int64_t N = 0, D = 0, HW = 0, K = 0;
  double beta = 0.25;
};

// Classifier-free guidance: eps_both [2N, ...] holds the conditional half first, then the
// unconditional half; out [N, ...] = eps_u + scale * (eps_c - eps_u). n = elements per half.
struct CfgCombineArgs {
  int64_t n = 0;
  double scale = 1.0;
};

// One ancestral DDPM step: x_prev = coef_x * x_t - coef_eps * eps + sigma * noise with
// coef_x = 1/sqrt(alpha_t), coef_eps = beta_t / (sqrt(alpha_t) * sqrt(1 - alpha_bar_t)).
struct DdpmStepArgs {
  int64_t n = 0;
  double coef_x = 1.0, coef_eps = 0.0, sigma = 0.0;
};

// One DDIM step from alpha_bar_t to alpha_bar_prev with stochasticity eta folded into sigma:
// x0 = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t);
// x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma * noise.
struct DdimStepArgs {
  int64_t n = 0;
  double alpha_bar_t = 1.0, alpha_bar_prev = 1.0, sigma = 0.0;
};

// AdamW (decoupled weight decay, PyTorch semantics), step counted from 1.
struct AdamWArgs {
  int64_t n = 0;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
  int64_t step = 1;
};

// EMA: ema = decay * ema + (1 - decay) * param.
struct EmaArgs {
  int64_t n = 0;
  double decay = 0.999;
};

}  // namespace ldm::kernels
