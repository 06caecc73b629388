// Embeddings (sinusoidal timestep, learned lookup) and the MSE loss.
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

// t [N] (float timesteps) -> [N, dim]: sin(t * f_i) then cos(t * f_i), f_i = max_period^(-i/half).
Tensor timestep_embedding(const Tensor& t, int64_t dim, double max_period = 10000.0);
// table [V, D], indices i32 of any shape S -> [S..., D]. Every index must be in [0, V).
Tensor embedding(const Tensor& table, const Tensor& indices);
// mean((a - b)^2) as a one-element tensor of shape [].
Tensor mse_loss(const Tensor& a, const Tensor& b);

}  // namespace ldm::ops
