// CPU sinusoidal timestep embedding, learned embedding lookup (the label embedding) and the
// mean-squared-error loss used as the diffusion training objective.
#pragma once

#include <cstdint>

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// t [N] -> out [N, dim]: half = dim / 2, freq_i = exp(-ln(max_period) * i / half),
// out[:, i] = sin(t * freq_i), out[:, half + i] = cos(t * freq_i); an odd dim's last column is 0.
template <typename T>
void timestep_embedding_forward(const TimestepEmbeddingArgs& a, const T* t, T* out);

// t [N], dout [N, dim] -> dt [N].
template <typename T>
void timestep_embedding_backward(const TimestepEmbeddingArgs& a, const T* t, const T* dout,
                                 T* dt);

// table [V, D], idx [N] (each in [0, V), checked by the caller) -> out [N, D].
template <typename T>
void embedding_forward(const EmbeddingArgs& a, const T* table, const int32_t* idx, T* out);

// idx [N], dout [N, D] -> dtable [V, D] (overwritten; rows no index hits are zero).
template <typename T>
void embedding_backward(const EmbeddingArgs& a, const int32_t* idx, const T* dout, T* dtable);

// x, y [n] -> loss (one scalar) = mean((x - y)^2), summed in double in a fixed blocked order.
template <typename T>
void mse_loss_forward(int64_t n, const T* x, const T* y, T* loss);

// x, y [n], dloss (scalar) -> dx = 2 (x - y) dloss / n, dy = -dx; either may be nullptr.
template <typename T>
void mse_loss_backward(int64_t n, const T* x, const T* y, T dloss, T* dx, T* dy);

}  // namespace ldm::kernels::cpu
