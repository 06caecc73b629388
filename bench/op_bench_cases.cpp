// The shapes of the default model (pneumonia28: batch 64, 28x28 images resized to 32x32, a VQ-VAE
// at 32x32 / 16x16 / 8x8 with 32..128 channels and a 3x8x8 latent, a U-Net at 8x8 and 4x4 with
// 64..128 channels) for every op of LDM_OPS. Inputs that are data in the model (images, latents
// fed to the first conv, targets, noise) do not require grad, so their backward does only the
// work training does; every other float input does.
#include <cmath>

#include "bench/op_bench.h"

namespace ldm::bench {
namespace {

constexpr int64_t kBatch = 64;
constexpr double kF32 = 4.0;  // bytes per element

double count(const Shape& shape) {
  return static_cast<double>(shape_numel(shape));
}
double bytes(const Shape& shape) {
  return kF32 * count(shape);
}

Tensor leaf(Rng& rng, const Shape& shape, Grad grad) {
  Tensor t = rng.normal(shape);
  if (grad == Grad::kYes) t.set_requires_grad(true);
  return t;
}

std::string conv_label(const std::string& part, const Shape& x, int64_t c_out, int64_t k, int64_t s,
                       int64_t p) {
  return part + "/" + dims(x) + "->" + std::to_string(c_out) + "/k" + std::to_string(k) + "s" +
         std::to_string(s) + "p" + std::to_string(p);
}

// conv2d with bias. Backward = dgrad (when x needs it) + wgrad, each as many flops as forward.
OpBenchCase conv(const std::string& part, const Shape& x, int64_t c_out, int64_t k, int64_t s,
                 int64_t p, Grad x_grad = Grad::kYes) {
  const int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  const double flops = 2.0 * static_cast<double>(N * c_out * Ho * Wo * C * k * k);
  const Shape w{c_out, C, k, k};
  OpBenchCase c{
      OpKind::kConv2d,
      conv_label(part, x, c_out, k, s, p),
      [=](Rng& rng) {
        return std::vector<Tensor>{leaf(rng, x, x_grad), leaf(rng, w, Grad::kYes),
                                   leaf(rng, {c_out}, Grad::kYes)};
      },
      [=](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], s, p); },
      {}};
  c.cost.fwd_flops = flops;
  c.cost.bwd_flops = flops * (x_grad == Grad::kYes ? 2 : 1);
  return c;
}

// conv_transpose2d with bias: the adjoint of a conv, so the same three gemms.
OpBenchCase conv_t(const std::string& part, const Shape& x, int64_t c_out, int64_t k, int64_t s,
                   int64_t p) {
  const int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  const double flops = 2.0 * static_cast<double>(N * C * H * W * c_out * k * k);
  const Shape w{C, c_out, k, k};
  OpBenchCase c{OpKind::kConvTranspose2d,
                conv_label(part, x, c_out, k, s, p),
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, x, Grad::kYes), leaf(rng, w, Grad::kYes),
                                             leaf(rng, {c_out}, Grad::kYes)};
                },
                [=](const std::vector<Tensor>& in) {
                  return ops::conv_transpose2d(in[0], in[1], in[2], s, p);
                },
                {}};
  c.cost.fwd_flops = flops;
  c.cost.bwd_flops = 2 * flops;
  return c;
}

OpBenchCase group_norm(const std::string& part, const Shape& x, int64_t groups) {
  const Shape gb{x[1]};
  OpBenchCase c{
      OpKind::kGroupNorm,
      part + "/" + dims(x) + "/g" + std::to_string(groups),
      [=](Rng& rng) {
        return std::vector<Tensor>{leaf(rng, x, Grad::kYes), leaf(rng, gb, Grad::kYes),
                                   leaf(rng, gb, Grad::kYes)};
      },
      [=](const std::vector<Tensor>& in) { return ops::group_norm(in[0], in[1], in[2], groups); },
      {}};
  // Forward reads x and writes y; backward reads x and dy and writes dx (the stats and the
  // per-channel parameters are negligible).
  c.cost.fwd_bytes = 2 * bytes(x) + 2 * bytes(gb);
  c.cost.bwd_bytes = 3 * bytes(x) + 4 * bytes(gb);
  return c;
}

enum class Unary { kSilu, kTanh, kHardtanh, kScale };

OpBenchCase unary(Unary kind, const std::string& part, const Shape& x) {
  const OpKind op = kind == Unary::kSilu       ? OpKind::kSilu
                    : kind == Unary::kTanh     ? OpKind::kTanh
                    : kind == Unary::kHardtanh ? OpKind::kHardtanh
                                               : OpKind::kScale;
  OpBenchCase c{op,
                part + "/" + dims(x),
                [=](Rng& rng) { return std::vector<Tensor>{leaf(rng, x, Grad::kYes)}; },
                [=](const std::vector<Tensor>& in) {
                  switch (kind) {
                    case Unary::kSilu:
                      return ops::silu(in[0]);
                    case Unary::kTanh:
                      return ops::tanh(in[0]);
                    case Unary::kHardtanh:
                      return ops::hardtanh(in[0], -1.0, 1.0);
                    case Unary::kScale:
                      break;
                  }
                  return ops::scale(in[0], 0.125);
                },
                {}};
  c.cost.fwd_bytes = 2 * bytes(x);
  // silu and hardtanh read x and dy, tanh reads y and dy; scale needs only dy.
  c.cost.bwd_bytes = (kind == Unary::kScale ? 2 : 3) * bytes(x);
  return c;
}

OpBenchCase binary(OpKind op, const std::string& part, const Shape& a, const Shape& b) {
  const char* sign = op == OpKind::kAdd ? "+" : "*";
  OpBenchCase c{op,
                part + "/" + dims(a) + sign + dims(b),
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, a, Grad::kYes), leaf(rng, b, Grad::kYes)};
                },
                [=](const std::vector<Tensor>& in) {
                  return op == OpKind::kAdd ? ops::add(in[0], in[1]) : ops::mul(in[0], in[1]);
                },
                {}};
  // a is the larger operand (the output's shape).
  c.cost.fwd_bytes = bytes(a) + bytes(b) + bytes(a);
  // add: read dy, write da and db (a broadcast db is a reduction of dy). mul also reads a, b.
  c.cost.bwd_bytes = bytes(a) + bytes(a) + bytes(b);
  if (op == OpKind::kMul) c.cost.bwd_bytes += bytes(a) + bytes(b);
  return c;
}

OpBenchCase linear(const std::string& part, const Shape& x, int64_t n_out, Grad x_grad) {
  const int64_t K = x.back();
  const double M = count(x) / static_cast<double>(K);
  const double flops = 2.0 * M * static_cast<double>(n_out * K);
  OpBenchCase c{OpKind::kLinear,
                part + "/" + dims(x) + "->" + std::to_string(n_out),
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, x, x_grad),
                                             leaf(rng, {n_out, K}, Grad::kYes),
                                             leaf(rng, {n_out}, Grad::kYes)};
                },
                [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); },
                {}};
  c.cost.fwd_flops = flops;
  c.cost.bwd_flops = flops * (x_grad == Grad::kYes ? 2 : 1);
  return c;
}

OpBenchCase matmul(const std::string& part, int64_t B, int64_t M, int64_t K, int64_t N) {
  const double flops = 2.0 * static_cast<double>(B * M * N * K);
  OpBenchCase c{OpKind::kMatmul,
                part + "/" + dims({B, M, K}) + "@" + dims({B, K, N}),
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, {B, M, K}, Grad::kYes),
                                             leaf(rng, {B, K, N}, Grad::kYes)};
                },
                [](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                {}};
  c.cost.fwd_flops = flops;
  c.cost.bwd_flops = 2 * flops;
  return c;
}

OpBenchCase softmax(const std::string& part, const Shape& x) {
  OpBenchCase c{OpKind::kSoftmax,
                part + "/" + dims(x),
                [=](Rng& rng) { return std::vector<Tensor>{leaf(rng, x, Grad::kYes)}; },
                [](const std::vector<Tensor>& in) { return ops::softmax(in[0]); },
                {}};
  c.cost.fwd_bytes = 2 * bytes(x);
  c.cost.bwd_bytes = 3 * bytes(x);
  return c;
}

// q, k, v [B, heads, L, D] with D = channels / heads, as the U-Net's attention block makes them.
OpBenchCase attention(int64_t channels, int64_t side, int64_t heads) {
  const int64_t L = side * side, D = channels / heads;
  const Shape qkv{kBatch, heads, L, D};
  const double qk = 2.0 * static_cast<double>(kBatch * heads * L * L * D);  // q k^T, or p v
  OpBenchCase c{OpKind::kAttention,
                "unet/" + dims(qkv) + "/L" + std::to_string(L) + "h" + std::to_string(heads),
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, qkv, Grad::kYes), leaf(rng, qkv, Grad::kYes),
                                             leaf(rng, qkv, Grad::kYes)};
                },
                [](const std::vector<Tensor>& in) { return ops::attention(in[0], in[1], in[2]); },
                {}};
  c.cost.fwd_flops = 2 * qk;  // scores and the weighted sum
  c.cost.bwd_flops = 4 * qk;  // dv, dprobs, dq, dk
  return c;
}

OpBenchCase resample(OpKind op, const std::string& part, const Shape& x, int64_t H_out,
                     int64_t W_out) {
  const Shape y{x[0], x[1], H_out, W_out};
  OpBenchCase c{op,
                part + "/" + dims(x) + "->" + dims(y),
                [=](Rng& rng) { return std::vector<Tensor>{leaf(rng, x, Grad::kYes)}; },
                [=](const std::vector<Tensor>& in) {
                  return op == OpKind::kUpsampleNearest ? ops::upsample_nearest(in[0], H_out / x[2])
                                                        : ops::resize_bilinear(in[0], H_out, W_out);
                },
                {}};
  c.cost.fwd_bytes = bytes(x) + bytes(y);
  c.cost.bwd_bytes = bytes(y) + bytes(x);
  return c;
}

OpBenchCase concat(const std::string& part, const Shape& a, const Shape& b) {
  Shape out = a;
  out[1] += b[1];
  OpBenchCase c{OpKind::kConcat,
                part + "/" + dims(a) + "+" + dims(b) + "/dim1",
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, a, Grad::kYes), leaf(rng, b, Grad::kYes)};
                },
                [](const std::vector<Tensor>& in) { return ops::concat(in, 1); },
                {}};
  c.cost.fwd_bytes = 2 * bytes(out);
  c.cost.bwd_bytes = 2 * bytes(out);
  return c;
}

OpBenchCase slice(const std::string& part, const Shape& x, int64_t start, int64_t end) {
  Shape y = x;
  y[1] = end - start;
  OpBenchCase c{
      OpKind::kSlice,
      part + "/" + dims(x) + "/dim1[" + std::to_string(start) + ":" + std::to_string(end) + "]",
      [=](Rng& rng) { return std::vector<Tensor>{leaf(rng, x, Grad::kYes)}; },
      [=](const std::vector<Tensor>& in) { return ops::slice(in[0], 1, start, end); },
      {}};
  c.cost.fwd_bytes = 2 * bytes(y);
  c.cost.bwd_bytes = bytes(y) + bytes(x);  // dx is written whole (zeros outside the slice)
  return c;
}

// permute to a contiguous copy: reads x once and writes y once each way.
OpBenchCase permute(const std::string& part, const Shape& x, const std::vector<int>& order) {
  Shape y;
  std::string order_label;
  for (int d : order) {
    y.push_back(x[static_cast<size_t>(d)]);
    order_label += std::to_string(d);
  }
  OpBenchCase c{OpKind::kPermute,
                part + "/" + dims(x) + "->" + dims(y) + "/" + order_label,
                [=](Rng& rng) { return std::vector<Tensor>{leaf(rng, x, Grad::kYes)}; },
                [=](const std::vector<Tensor>& in) { return ops::permute(in[0], order); },
                {}};
  c.cost.fwd_bytes = 2 * bytes(x);
  c.cost.bwd_bytes = 2 * bytes(x);
  return c;
}

OpBenchCase mse_loss(const std::string& part, const Shape& x) {
  OpBenchCase c{OpKind::kMseLoss,
                part + "/" + dims(x),
                [=](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, x, Grad::kYes), leaf(rng, x, Grad::kNo)};
                },
                [](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], in[1]); },
                {}};
  c.cost.fwd_bytes = 2 * bytes(x);
  c.cost.bwd_bytes = 3 * bytes(x);
  return c;
}

// K codes of dimension D against the N x H x W latent pixels. The frozen codebook (the default
// recipe) needs no gradient; the learned one does.
OpBenchCase vector_quantize(const Shape& z, int64_t K, Grad codebook_grad) {
  const int64_t D = z[1];
  const double pixels = count(z) / static_cast<double>(D);
  OpBenchCase c{
      OpKind::kVectorQuantize,
      std::string(codebook_grad == Grad::kYes ? "vq-learned/" : "vq-frozen/") + dims(z) + "/K" +
          std::to_string(K),
      [=](Rng& rng) {
        Tensor codebook = rng.uniform({K, D}, -1.0, 1.0);
        if (codebook_grad == Grad::kYes) codebook.set_requires_grad(true);
        return std::vector<Tensor>{leaf(rng, z, Grad::kYes), codebook};
      },
      [](const std::vector<Tensor>& in) { return ops::vector_quantize(in[0], in[1]).z_q; },
      {}};
  // The search is a dot product with every code per pixel; the backward is elementwise.
  c.cost.fwd_flops = 2.0 * pixels * static_cast<double>(K * D);
  c.cost.bwd_bytes =
      3 * bytes(z) + kF32 * pixels + (codebook_grad == Grad::kYes ? 2 * bytes({K, D}) : 0.0);
  return c;
}

// Sampler steps on a batch of 128 latents 3x8x8 (64 images x cond/uncond would be the cfg
// input; here the cfg input holds 2 x 128 so that all three ops produce the same 128x3x8x8).
const Shape kLatents{2 * kBatch, 3, 8, 8};

OpBenchCase cfg_combine() {
  const Shape both{2 * kLatents[0], kLatents[1], kLatents[2], kLatents[3]};
  OpBenchCase c{OpKind::kCfgCombine,
                "sampler/" + dims(both) + "->" + dims(kLatents),
                [=](Rng& rng) { return std::vector<Tensor>{leaf(rng, both, Grad::kYes)}; },
                [](const std::vector<Tensor>& in) { return ops::cfg_combine(in[0], 3.0); },
                {}};
  c.cost.fwd_bytes = bytes(both) + bytes(kLatents);
  c.cost.bwd_bytes = bytes(kLatents) + bytes(both);
  return c;
}

OpBenchCase sampler_step(OpKind op) {
  OpBenchCase c{op,
                "sampler/" + dims(kLatents),
                [](Rng& rng) {
                  return std::vector<Tensor>{leaf(rng, kLatents, Grad::kYes),
                                             leaf(rng, kLatents, Grad::kYes),
                                             leaf(rng, kLatents, Grad::kNo)};
                },
                [op](const std::vector<Tensor>& in) {
                  if (op == OpKind::kDdpmStep) {
                    kernels::DdpmStepArgs a;
                    a.coef_x = 1.0 / std::sqrt(0.98);
                    a.coef_eps = 0.02 / (std::sqrt(0.98) * std::sqrt(0.5));
                    a.sigma = std::sqrt(0.02);
                    return ops::ddpm_step(in[0], in[1], in[2], a);
                  }
                  kernels::DdimStepArgs a;
                  a.alpha_bar_t = 0.5;
                  a.alpha_bar_prev = 0.6;
                  a.sigma = 0.1;
                  return ops::ddim_step(in[0], in[1], in[2], a);
                },
                {}};
  c.cost.fwd_bytes = 4 * bytes(kLatents);  // x_t, eps, noise -> x_prev
  c.cost.bwd_bytes = 3 * bytes(kLatents);  // dy -> dx_t, deps
  return c;
}

OpBenchCase adamw_step(int64_t n) {
  OpBenchCase c{OpKind::kAdamwStep,
                "param/" + std::to_string(n),
                [n](Rng& rng) {
                  return std::vector<Tensor>{rng.normal({n}), rng.normal({n}, 0.0, 1e-3),
                                             Tensor::zeros({n}), Tensor::zeros({n})};
                },
                [](const std::vector<Tensor>& in) {
                  kernels::AdamWArgs hyper;
                  hyper.lr = 3e-4;
                  hyper.step = 10;
                  ops::adamw_step(in[0], in[1], in[2], in[3], hyper);
                  return Tensor();
                },
                {}};
  c.cost.fwd_bytes = 7 * bytes({n});  // reads param, grad, m, v; writes param, m, v
  return c;
}

OpBenchCase ema_update(int64_t n) {
  OpBenchCase c{OpKind::kEmaUpdate,
                "param/" + std::to_string(n),
                [n](Rng& rng) {
                  return std::vector<Tensor>{rng.normal({n}), rng.normal({n})};
                },
                [](const std::vector<Tensor>& in) {
                  ops::ema_update(in[0], in[1], 0.999);
                  return Tensor();
                },
                {}};
  c.cost.fwd_bytes = 3 * bytes({n});  // reads ema, param; writes ema
  return c;
}

}  // namespace

std::string dims(const Shape& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

std::vector<OpBenchCase> op_bench_cases() {
  const int64_t N = kBatch;
  std::vector<OpBenchCase> cases;
  auto add = [&](OpBenchCase c) { cases.push_back(std::move(c)); };

  // conv2d. The three U-Net 3x3 shapes the acceptance criterion names come first.
  add(conv("unet", {N, 128, 8, 8}, 128, 3, 1, 1));
  add(conv("unet", {N, 64, 8, 8}, 64, 3, 1, 1));
  add(conv("unet", {N, 128, 4, 4}, 128, 3, 1, 1));
  add(conv("unet-in", {N, 3, 8, 8}, 64, 3, 1, 1, Grad::kNo));
  add(conv("unet-skip", {N, 192, 8, 8}, 64, 3, 1, 1));
  add(conv("unet-down", {N, 64, 8, 8}, 128, 4, 2, 1));
  add(conv("unet-out", {N, 64, 8, 8}, 3, 3, 1, 1));
  add(conv("vq-in", {N, 1, 32, 32}, 32, 3, 1, 1, Grad::kNo));
  add(conv("vq", {N, 32, 32, 32}, 32, 3, 1, 1));
  add(conv("vq", {N, 64, 16, 16}, 64, 3, 1, 1));
  add(conv("vq-down", {N, 32, 32, 32}, 64, 4, 2, 1));
  add(conv("vq-down", {N, 64, 16, 16}, 128, 4, 2, 1));
  add(conv("vq-proj", {N, 128, 8, 8}, 3, 1, 1, 0));
  add(conv("vq-unproj", {N, 3, 8, 8}, 128, 1, 1, 0));
  add(conv("vq-out", {N, 32, 32, 32}, 1, 3, 1, 1));
  // conv_transpose2d: the VQ-VAE decoder's upsampling.
  add(conv_t("vq-up", {N, 128, 8, 8}, 64, 4, 2, 1));
  add(conv_t("vq-up", {N, 64, 16, 16}, 32, 4, 2, 1));

  add(group_norm("vq", {N, 32, 32, 32}, 8));
  add(group_norm("vq", {N, 64, 16, 16}, 32));
  add(group_norm("vq+unet", {N, 128, 8, 8}, 32));
  add(group_norm("unet", {N, 64, 8, 8}, 32));
  add(group_norm("unet", {N, 128, 4, 4}, 32));

  add(unary(Unary::kSilu, "vq", {N, 32, 32, 32}));
  add(unary(Unary::kSilu, "vq+unet", {N, 128, 8, 8}));
  add(unary(Unary::kSilu, "unet", {N, 128, 4, 4}));
  add(unary(Unary::kSilu, "unet-temb", {N, 512}));
  add(unary(Unary::kTanh, "vq-out", {N, 1, 32, 32}));
  add(unary(Unary::kHardtanh, "vq-out", {N, 1, 32, 32}));

  // The time-embedding MLP (its input is the sinusoid of data timesteps: no dx), its projection
  // into a block, and the attention block's q/k/v and output projections over 8x8 tokens.
  add(linear("unet-temb", {N, 128}, 512, Grad::kNo));
  add(linear("unet-temb", {N, 512}, 512, Grad::kYes));
  add(linear("unet-temb-proj", {N, 512}, 128, Grad::kYes));
  add(linear("unet-qkv", {N, 64, 64}, 192, Grad::kYes));
  add(linear("unet-attn-out", {N, 64, 64}, 64, Grad::kYes));
  add(matmul("unet-bmm", N, 64, 64, 64));
  add(matmul("unet-bmm", N * 4, 16, 32, 16));
  add(softmax("unet", {N, 4, 64, 64}));
  add(softmax("unet", {N, 4, 16, 16}));
  add(attention(64, 8, 1));
  add(attention(64, 8, 4));
  add(attention(128, 4, 1));
  add(attention(128, 4, 4));

  add(resample(OpKind::kUpsampleNearest, "unet", {N, 128, 4, 4}, 8, 8));
  add(resample(OpKind::kUpsampleNearest, "unet", {N, 64, 8, 8}, 16, 16));
  add(resample(OpKind::kResizeBilinear, "data", {N, 1, 28, 28}, 32, 32));

  add(binary(OpKind::kAdd, "vq-residual", {N, 32, 32, 32}, {N, 32, 32, 32}));
  add(binary(OpKind::kAdd, "unet-residual", {N, 128, 8, 8}, {N, 128, 8, 8}));
  add(binary(OpKind::kAdd, "unet-temb", {N, 128, 8, 8}, {N, 128, 1, 1}));
  add(binary(OpKind::kMul, "unet", {N, 128, 8, 8}, {N, 128, 8, 8}));
  add(binary(OpKind::kMul, "unet-film", {N, 128, 8, 8}, {N, 128, 1, 1}));
  add(unary(Unary::kScale, "unet", {N, 128, 8, 8}));
  // One element: what an op costs beyond its kernel (checks, allocation, tape, dispatch).
  add(unary(Unary::kScale, "overhead", {1}));

  add(concat("unet-skip", {N, 128, 8, 8}, {N, 64, 8, 8}));
  add(concat("unet-skip", {N, 128, 4, 4}, {N, 128, 4, 4}));
  add(slice("unet-qkv", {N, 192, 8, 8}, 64, 128));
  add(slice("unet-temb", {N, 1024}, 0, 512));
  // The U-Net's attention block: feature maps [N, C, L] to tokens [N, L, C] and back, and the
  // q/k/v projection's [N, L, 3, heads, D] split into [3, N, heads, L, D].
  add(permute("unet-tokens", {N, 64, 64}, {0, 2, 1}));
  add(permute("unet-tokens", {N, 128, 16}, {0, 2, 1}));
  add(permute("unet-tokens", {N, 192, 64}, {0, 2, 1}));
  add(permute("unet-untokens", {N, 64, 128}, {0, 2, 1}));
  add(permute("unet-untokens", {N, 16, 128}, {0, 2, 1}));
  add(permute("unet-qkv-split", {N, 64, 3, 4, 16}, {2, 0, 3, 1, 4}));
  add(permute("unet-qkv-split", {N, 64, 3, 1, 64}, {2, 0, 3, 1, 4}));
  add(permute("unet-qkv-split", {N, 16, 3, 4, 32}, {2, 0, 3, 1, 4}));

  {
    OpBenchCase c{OpKind::kTimestepEmbedding,
                  "unet/" + dims({N}) + "->128",
                  [=](Rng& rng) {
                    Tensor t = rng.uniform({N}, 0.0, 1000.0);
                    t.set_requires_grad(true);  // no model needs dt; set so the backward runs
                    return std::vector<Tensor>{t};
                  },
                  [](const std::vector<Tensor>& in) { return ops::timestep_embedding(in[0], 128); },
                  {}};
    c.cost.fwd_bytes = bytes({N}) + bytes({N, 128});
    c.cost.bwd_bytes = 2 * bytes({N}) + bytes({N, 128});
    add(std::move(c));
  }
  {
    // Two labels plus the null label of classifier-free guidance.
    const Shape table{3, 128};
    OpBenchCase c{OpKind::kEmbedding,
                  "unet-label/" + dims(table) + "[" + dims({N}) + "]",
                  [=](Rng& rng) {
                    return std::vector<Tensor>{leaf(rng, table, Grad::kYes), rng.randint({N}, 3)};
                  },
                  [](const std::vector<Tensor>& in) { return ops::embedding(in[0], in[1]); },
                  {}};
    c.cost.fwd_bytes = 2 * bytes({N, 128}) + bytes({N});
    c.cost.bwd_bytes = bytes({N, 128}) + bytes({N}) + bytes(table);
    add(std::move(c));
  }

  add(mse_loss("vq-recon", {N, 1, 32, 32}));
  add(mse_loss("unet-eps", {N, 3, 8, 8}));
  add(vector_quantize({N, 3, 8, 8}, 4096, Grad::kNo));
  add(vector_quantize({N, 3, 8, 8}, 4096, Grad::kYes));

  add(cfg_combine());
  add(sampler_step(OpKind::kDdpmStep));
  add(sampler_step(OpKind::kDdimStep));

  add(adamw_step(1'000'000));
  add(adamw_step(10'000'000));
  add(ema_update(1'000'000));
  add(ema_update(10'000'000));
  return cases;
}

}  // namespace ldm::bench
