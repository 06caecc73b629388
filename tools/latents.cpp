// Batched VQ-VAE encode / decode / evaluation (see tools/latents.h).
#include "tools/latents.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops.h"

namespace ldm::tools {
namespace {

// Applies fn to batches of x along dim 0, each moved to the models' device, and concatenates the
// results on the host (where datasets live).
template <typename Fn>
Tensor map_batches(const Tensor& x, Fn fn) {
  NoGradGuard no_grad;
  const int64_t N = x.shape()[0];
  std::vector<Tensor> parts;
  for (int64_t b = 0; b < N; b += kEvalBatch)
    parts.push_back(
        fn(rows(x, b, std::min(N, b + kEvalBatch)).to(default_device())).to(Device::cpu()));
  return parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
}

}  // namespace

Tensor rows(const Tensor& x, int64_t begin, int64_t end) {
  if (begin == 0 && end == x.shape()[0]) return x;
  return ops::slice(x, 0, begin, end);
}

Tensor encode_latents(const models::VqVae& vqvae, const Tensor& images) {
  return map_batches(images, [&](const Tensor& x) { return vqvae.encode(x); });
}

Tensor decode_latents(const models::VqVae& vqvae, const Tensor& z) {
  return map_batches(z, [&](const Tensor& zb) { return vqvae.decode(vqvae.quantize(zb).z_q); });
}

ReconstructionStats evaluate_reconstruction(const models::VqVae& vqvae, const Tensor& images) {
  NoGradGuard no_grad;
  const int64_t N = images.shape()[0];
  double squared_error = 0;
  std::vector<int32_t> indices;
  for (int64_t b = 0; b < N; b += kEvalBatch) {
    const Tensor x = rows(images, b, std::min(N, b + kEvalBatch)).to(default_device());
    const models::VqVaeOutput out = vqvae.forward(x);
    squared_error += ops::mse_loss(out.x_hat, x).item() * static_cast<double>(x.numel());
    const std::vector<int32_t> batch_indices = out.indices.to_vector<int32_t>();
    indices.insert(indices.end(), batch_indices.begin(), batch_indices.end());
  }
  ReconstructionStats s;
  s.images = N;
  s.mse = squared_error / static_cast<double>(images.numel());
  s.psnr_db = 10 * std::log10(4.0 / s.mse);
  const Tensor all_indices = Tensor::from_vector<int32_t>(indices, {static_cast<int64_t>(indices.size())});
  s.usage = models::codebook_usage(all_indices, vqvae.config().codebook_size);
  return s;
}

}  // namespace ldm::tools
