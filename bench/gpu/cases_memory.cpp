// The memory-bound families at the model's shapes (batch 64): group norm, vector quantization,
// elementwise glue, embeddings and the MSE loss, the sampler steps, the optimizer updates and the
// activations. None has a cuDNN or cuBLAS counterpart, so each row is ours alone; the bytes are
// what the kernel must move, so %BW says how close it runs to the DRAM roofline. FLOP counts are
// the obvious per-element operation counts (a transcendental counts as one).
#include <string>

#include "bench/gpu/runner.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/diffusion.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/quantize.h"

namespace ldm::bench::gpu {
namespace {

namespace kc = ::ldm::kernels::cuda;

double floats(double n) {
  return 4.0 * n;
}

// One row without a reference, if the filter wants it.
template <typename Run>
void simple(Runner& r, const char* name, const std::string& where, const std::string& shape,
            double bytes, double flops, Run run) {
  if (!r.wants(name, where)) return;
  Measurement m{name, where, shape};
  m.bytes = bytes;
  m.flops = flops;
  m.ours = run;
  r.measure(m);
}

struct NormSpec {
  const char* where;
  int64_t C, HW, groups;
};

constexpr NormSpec kNorms[] = {
    {"vq.gn32", 32, 32 * 32, 8},  {"vq.gn64", 64, 16 * 16, 8},    {"vq.gn128", 128, 8 * 8, 8},
    {"unet.gn64", 64, 8 * 8, 32}, {"unet.gn128", 128, 4 * 4, 32},
};

}  // namespace

void norm_quantize_cases(Runner& r) {
  const cudaStream_t st = r.stream();
  for (const NormSpec& s : kNorms) {
    if (!r.wants("group_norm_forward", s.where) && !r.wants("group_norm_backward", s.where))
      continue;
    kernels::GroupNormArgs a;
    a.N = 64;
    a.C = s.C;
    a.HW = s.HW;
    a.groups = s.groups;
    const int64_t n = a.N * a.C * a.HW, stats = a.N * a.groups;
    DeviceBuffer<float> x = random_buffer(n, 41), gamma = random_buffer(a.C, 42),
                        beta = random_buffer(a.C, 43), dy = random_buffer(n, 44);
    DeviceBuffer<float> y(n), mean(stats), rstd(stats), dx(n), dgamma(a.C), dbeta(a.C);
    kc::group_norm_forward(a, x.get(), gamma.get(), beta.get(), y.get(), mean.get(), rstd.get(),
                           st);
    const std::string shape =
        dims({a.N, a.C, a.HW}) + format(" g%lld", static_cast<long long>(a.groups));
    const double e = static_cast<double>(n);
    simple(r, "group_norm_forward", s.where, shape, floats(2 * e + 2 * a.C + 2 * stats), 8 * e,
           [&] {
             kc::group_norm_forward(a, x.get(), gamma.get(), beta.get(), y.get(), mean.get(),
                                    rstd.get(), st);
           });
    simple(r, "group_norm_backward", s.where, shape, floats(3 * e + 3 * a.C + 2 * stats), 11 * e,
           [&] {
             kc::group_norm_backward(a, x.get(), gamma.get(), mean.get(), rstd.get(), dy.get(),
                                     dx.get(), dgamma.get(), dbeta.get(), st);
           });
  }

  // The VQ-VAE's codebook search: 64 x 8 x 8 latent pixels of D = 3 against K = 4096 codes,
  // counted as one D-dot product per (pixel, code) as ldm-op-bench does.
  const char* where = "vq.quantize";
  if (!r.wants("vector_quantize_forward", where) && !r.wants("vector_quantize_backward", where))
    return;
  kernels::VectorQuantizeArgs a;
  a.N = 64;
  a.D = 3;
  a.HW = 8 * 8;
  a.K = 4096;
  const int64_t n = a.N * a.D * a.HW, pixels = a.N * a.HW, book = a.K * a.D;
  DeviceBuffer<float> z_e = random_buffer(n, 45), codebook = random_buffer(book, 46),
                      dz_q = random_buffer(n, 47);
  DeviceBuffer<float> z_q(n), loss(1), dz_e(n), dcodebook(book), dloss(1);
  dloss.upload({1.0f});
  DeviceBuffer<int32_t> indices(pixels);
  kc::vector_quantize_forward(a, z_e.get(), codebook.get(), z_q.get(), indices.get(), loss.get(),
                              st);
  const std::string shape = dims({a.N, a.D, a.HW}) + format(" K%lld", static_cast<long long>(a.K));
  const double e = static_cast<double>(n);
  simple(r, "vector_quantize_forward", where, shape, floats(2 * e + book + pixels + 1),
         2.0 * pixels * a.K * a.D + 3 * e, [&] {
           kc::vector_quantize_forward(a, z_e.get(), codebook.get(), z_q.get(), indices.get(),
                                       loss.get(), st);
         });
  simple(r, "vector_quantize_backward", where, shape, floats(3 * e + 2.0 * book + pixels + 1),
         4 * e, [&] {
           kc::vector_quantize_backward(a, z_e.get(), codebook.get(), indices.get(), dz_q.get(),
                                        dloss.get(), dz_e.get(), dcodebook.get(), st);
         });
}

void elementwise_cases(Runner& r) {
  const cudaStream_t st = r.stream();
  auto bytes_of = [](int64_t n) { return floats(static_cast<double>(n)); };
  {
    // The latent scaling, on a U-Net activation's size.
    kernels::ElementwiseArgs a;
    a.n = 64 * 128 * 8 * 8;
    a.alpha = 0.18;
    if (r.wants("scale_forward", "unet.act128")) {
      DeviceBuffer<float> x = random_buffer(a.n, 51), y(a.n);
      simple(r, "scale_forward", "unet.act128", dims({64, 128, 8, 8}), 2 * bytes_of(a.n),
             static_cast<double>(a.n), [&] { kc::scale_forward(a, x.get(), y.get(), st); });
    }
  }
  // Broadcasting add and mul: the time embedding added per channel ([64, 128, 1, 1] over
  // [64, 128, 8, 8]) and a same-shape residual add.
  struct BroadcastSpec {
    const char* where;
    int64_t a[4], b[4];
  };
  constexpr BroadcastSpec kBroadcasts[] = {
      {"unet.emb_add", {64, 128, 8, 8}, {64, 128, 1, 1}},
      {"unet.residual", {64, 64, 8, 8}, {64, 64, 8, 8}},
  };
  for (const BroadcastSpec& s : kBroadcasts) {
    const bool any = r.wants("add_forward", s.where) || r.wants("add_backward", s.where) ||
                     r.wants("mul_forward", s.where) || r.wants("mul_backward", s.where);
    if (!any) continue;
    kernels::BroadcastArgs a;
    int64_t a_n = 1, b_n = 1;
    for (int d = 0; d < 4; ++d) {
      a.a_shape[d + 2] = a.out_shape[d + 2] = s.a[d];
      a.b_shape[d + 2] = s.b[d];
      a_n *= s.a[d];
      b_n *= s.b[d];
    }
    DeviceBuffer<float> x = random_buffer(a_n, 52), y = random_buffer(b_n, 53),
                        dout = random_buffer(a_n, 54);
    DeviceBuffer<float> out(a_n), dx(a_n), dy(b_n);
    const std::string shape =
        dims({s.a[0], s.a[1], s.a[2], s.a[3]}) + " . " + dims({s.b[0], s.b[1], s.b[2], s.b[3]});
    const double n = static_cast<double>(a_n);
    const double moved = bytes_of(2 * a_n + b_n);
    simple(r, "add_forward", s.where, shape, moved, n,
           [&] { kc::add_forward(a, x.get(), y.get(), out.get(), st); });
    simple(r, "add_backward", s.where, shape, moved, n,
           [&] { kc::add_backward(a, dout.get(), dx.get(), dy.get(), st); });
    simple(r, "mul_forward", s.where, shape, moved, n,
           [&] { kc::mul_forward(a, x.get(), y.get(), out.get(), st); });
    simple(r, "mul_backward", s.where, shape, bytes_of(3 * a_n + 2 * b_n), 3 * n,
           [&] { kc::mul_backward(a, x.get(), y.get(), dout.get(), dx.get(), dy.get(), st); });
  }
  {
    // Attention's q, k and v slices of the permuted qkv [3, N, heads, L, D].
    kernels::ConcatSliceArgs a;
    a.outer = 1;
    a.inner = 64 * 4 * 16 * 32;
    a.dim_in = 3;
    a.dim_out = 1;
    a.start = 1;
    if (r.wants("slice_copy", "unet.attn.qkv")) {
      DeviceBuffer<float> src = random_buffer(3 * a.inner, 55), dst(a.inner);
      simple(r, "slice_copy", "unet.attn.qkv", dims({3, 64, 4, 16, 32}) + " [1:2]",
             2 * bytes_of(a.inner), 0, [&] { kc::slice_copy(a, src.get(), dst.get(), st); });
    }
  }
  {
    // The U-Net's skip concat: [64, 128, 8, 8] into channels 128..255 of [64, 256, 8, 8].
    kernels::ConcatSliceArgs a;
    a.outer = 64;
    a.inner = 8 * 8;
    a.dim_in = 128;
    a.dim_out = 256;
    a.start = 128;
    if (r.wants("insert_copy", "unet.skip_concat")) {
      DeviceBuffer<float> src = random_buffer(a.outer * a.dim_in * a.inner, 56),
                          dst(a.outer * a.dim_out * a.inner);
      simple(r, "insert_copy", "unet.skip_concat",
             dims({64, 128, 8, 8}) + " -> " + dims({64, 256, 8, 8}), 2 * bytes_of(src.size()), 0,
             [&] { kc::insert_copy(a, src.get(), dst.get(), st); });
    }
  }
  {
    // Attention's qkv permute: [N, 3, heads, D, L] -> [3, N, heads, L, D].
    kernels::PermuteArgs a;
    a.rank = 5;
    const int64_t in_shape[] = {64, 3, 4, 32, 16};
    const int order[] = {1, 0, 2, 4, 3};
    int64_t n = 1;
    for (int d = 0; d < 5; ++d) {
      a.in_shape[d] = in_shape[d];
      a.order[d] = order[d];
      n *= in_shape[d];
    }
    if (r.wants("permute_copy", "unet.attn.qkv")) {
      DeviceBuffer<float> src = random_buffer(n, 57), dst(n);
      simple(r, "permute_copy", "unet.attn.qkv", dims({64, 3, 4, 32, 16}) + " (1,0,2,4,3)",
             2 * bytes_of(n), 0, [&] { kc::permute_copy(a, src.get(), dst.get(), st); });
    }
  }
  {
    // The U-Net's nearest 2x upsample and the data's 28 -> 32 bilinear resize.
    struct ResizeSpec {
      const char* where;
      bool bilinear;
      kernels::ResizeArgs a;
    };
    const ResizeSpec specs[] = {{"unet.upsample", false, {64, 128, 4, 4, 8, 8}},
                                {"data.resize", true, {64, 1, 28, 28, 32, 32}}};
    for (const ResizeSpec& s : specs) {
      const char* fwd = s.bilinear ? "resize_bilinear_forward" : "upsample_nearest_forward";
      const char* bwd = s.bilinear ? "resize_bilinear_backward" : "upsample_nearest_backward";
      if (!r.wants(fwd, s.where) && !r.wants(bwd, s.where)) continue;
      const kernels::ResizeArgs& a = s.a;
      const int64_t in_n = a.N * a.C * a.H_in * a.W_in, out_n = a.N * a.C * a.H_out * a.W_out;
      DeviceBuffer<float> x = random_buffer(in_n, 58), dy = random_buffer(out_n, 59);
      DeviceBuffer<float> y(out_n), dx(in_n);
      const std::string shape =
          dims({a.N, a.C, a.H_in, a.W_in}) + " -> " + dims({a.H_out, a.W_out});
      const double moved = bytes_of(in_n + out_n), outs = static_cast<double>(out_n);
      // Bilinear: 4 taps, 3 lerps each of 2 flops; nearest: none forward, one add per tap back.
      simple(r, fwd, s.where, shape, moved, s.bilinear ? 7 * outs : 0, [&] {
        if (s.bilinear)
          kc::resize_bilinear_forward(a, x.get(), y.get(), st);
        else
          kc::upsample_nearest_forward(a, x.get(), y.get(), st);
      });
      simple(r, bwd, s.where, shape, moved, s.bilinear ? 8 * outs : outs, [&] {
        if (s.bilinear)
          kc::resize_bilinear_backward(a, dy.get(), dx.get(), st);
        else
          kc::upsample_nearest_backward(a, dy.get(), dx.get(), st);
      });
    }
  }
}

void embedding_cases(Runner& r) {
  const cudaStream_t st = r.stream();
  {
    const char* where = "unet.time_embed";
    if (r.wants("timestep_embedding_forward", where) ||
        r.wants("timestep_embedding_backward", where)) {
      kernels::TimestepEmbeddingArgs a;
      a.N = 64;
      a.dim = 64;
      DeviceBuffer<float> t = random_buffer(a.N, 61, 0.0f, 1000.0f),
                          dout = random_buffer(a.N * a.dim, 62);
      DeviceBuffer<float> out(a.N * a.dim), dt(a.N);
      const std::string shape = dims({a.N}) + " -> " + dims({a.N, a.dim});
      const double e = static_cast<double>(a.N * a.dim);
      simple(r, "timestep_embedding_forward", where, shape, floats(e + a.N), 3 * e,
             [&] { kc::timestep_embedding_forward(a, t.get(), out.get(), st); });
      simple(r, "timestep_embedding_backward", where, shape, floats(e + 2.0 * a.N), 5 * e,
             [&] { kc::timestep_embedding_backward(a, t.get(), dout.get(), dt.get(), st); });
    }
  }
  {
    // The class label embedding: 2 classes + the null label, E = 256.
    const char* where = "unet.label_embed";
    if (r.wants("embedding_forward", where) || r.wants("embedding_backward", where)) {
      kernels::EmbeddingArgs a;
      a.N = 64;
      a.V = 3;
      a.D = 256;
      DeviceBuffer<float> table = random_buffer(a.V * a.D, 63), dout = random_buffer(a.N * a.D, 64);
      DeviceBuffer<int32_t> idx = random_indices(a.N, static_cast<int32_t>(a.V), 65);
      DeviceBuffer<float> out(a.N * a.D), dtable(a.V * a.D);
      const std::string shape = format("V%lld D%lld N%lld", static_cast<long long>(a.V),
                                       static_cast<long long>(a.D), static_cast<long long>(a.N));
      const double e = static_cast<double>(a.N * a.D);
      simple(r, "embedding_forward", where, shape, floats(2 * e + a.N), 0,
             [&] { kc::embedding_forward(a, table.get(), idx.get(), out.get(), st); });
      simple(r, "embedding_backward", where, shape, floats(e + a.N + a.V * a.D), e,
             [&] { kc::embedding_backward(a, idx.get(), dout.get(), dtable.get(), st); });
    }
  }
  {
    // The diffusion loss on the predicted noise: 64 x 3 x 8 x 8.
    const char* where = "ldm.loss";
    if (r.wants("mse_loss_forward", where) || r.wants("mse_loss_backward", where)) {
      const int64_t n = 64 * 3 * 8 * 8;
      DeviceBuffer<float> x = random_buffer(n, 66), y = random_buffer(n, 67);
      DeviceBuffer<float> loss(1), dloss(1), dx(n), dy(n);
      dloss.upload({1.0f});
      const double e = static_cast<double>(n);
      simple(r, "mse_loss_forward", where, dims({64, 3, 8, 8}), floats(2 * e + 1), 3 * e,
             [&] { kc::mse_loss_forward(n, x.get(), y.get(), loss.get(), st); });
      simple(r, "mse_loss_backward", where, dims({64, 3, 8, 8}), floats(4 * e + 1), 3 * e, [&] {
        kc::mse_loss_backward(n, x.get(), y.get(), dloss.get(), dx.get(), dy.get(), st);
      });
    }
  }
}

void diffusion_cases(Runner& r) {
  const char* where = "sampler";
  const char* names[] = {"cfg_combine_forward",   "cfg_combine_backward", "ddpm_step_forward",
                         "ddpm_step_backward",    "ddim_step_forward",    "ddim_step_backward",
                         "ddpm_step_cfg_forward", "ddim_step_cfg_forward"};
  bool any = false;
  for (const char* name : names) any = r.wants(name, where) || any;
  if (!any) return;
  const cudaStream_t st = r.stream();
  const int64_t n = 64 * 3 * 8 * 8;  // a batch of 64 latents
  kernels::CfgCombineArgs cfg;
  cfg.n = n;
  cfg.scale = 3.0;
  kernels::DdpmStepArgs ddpm;
  ddpm.n = n;
  ddpm.coef_x = 1.0001;
  ddpm.coef_eps = 0.01;
  ddpm.sigma = 0.01;
  kernels::DdimStepArgs ddim;
  ddim.n = n;
  ddim.alpha_bar_t = 0.5;
  ddim.alpha_bar_prev = 0.6;
  DeviceBuffer<float> x_t = random_buffer(n, 71), eps = random_buffer(n, 72),
                      noise = random_buffer(n, 73), eps_both = random_buffer(2 * n, 74),
                      dout = random_buffer(n, 75);
  DeviceBuffer<float> out(n), d1(n), d2(n), d3(n), deps_both(2 * n);
  const std::string shape = dims({64, 3, 8, 8});
  const double e = static_cast<double>(n);
  simple(r, "cfg_combine_forward", where, shape, floats(3 * e), 3 * e,
         [&] { kc::cfg_combine_forward(cfg, eps_both.get(), out.get(), st); });
  simple(r, "cfg_combine_backward", where, shape, floats(3 * e), 2 * e,
         [&] { kc::cfg_combine_backward(cfg, dout.get(), deps_both.get(), st); });
  simple(r, "ddpm_step_forward", where, shape, floats(4 * e), 5 * e,
         [&] { kc::ddpm_step_forward(ddpm, x_t.get(), eps.get(), noise.get(), out.get(), st); });
  simple(r, "ddpm_step_backward", where, shape, floats(4 * e), 3 * e,
         [&] { kc::ddpm_step_backward(ddpm, dout.get(), d1.get(), d2.get(), d3.get(), st); });
  simple(r, "ddim_step_forward", where, shape, floats(4 * e), 6 * e,
         [&] { kc::ddim_step_forward(ddim, x_t.get(), eps.get(), noise.get(), out.get(), st); });
  simple(r, "ddim_step_backward", where, shape, floats(4 * e), 3 * e,
         [&] { kc::ddim_step_backward(ddim, dout.get(), d1.get(), d2.get(), d3.get(), st); });
  simple(r, "ddpm_step_cfg_forward", where, shape, floats(5 * e), 8 * e, [&] {
    kc::ddpm_step_cfg_forward(cfg, ddpm, x_t.get(), eps_both.get(), noise.get(), out.get(), st);
  });
  simple(r, "ddim_step_cfg_forward", where, shape, floats(5 * e), 9 * e, [&] {
    kc::ddim_step_cfg_forward(cfg, ddim, x_t.get(), eps_both.get(), noise.get(), out.get(), st);
  });
}

void optim_cases(Runner& r) {
  const char* where = "params.4M";
  const bool adamw = r.wants("adamw_step", where), ema = r.wants("ema_update", where);
  if (!adamw && !ema) return;
  const cudaStream_t st = r.stream();
  const int64_t n = int64_t{4} << 20;
  const double e = static_cast<double>(n);
  DeviceBuffer<float> param = random_buffer(n, 81), grad = random_buffer(n, 82),
                      m = random_buffer(n, 83, 0.0f, 0.01f), v = random_buffer(n, 84, 0.0f, 0.01f),
                      ema_buf = random_buffer(n, 85);
  kernels::AdamWArgs aa;
  aa.n = n;
  kernels::EmaArgs ea;
  ea.n = n;
  // In place: param, m, v read and written, grad read.
  simple(r, "adamw_step", where, dims({n}), floats(7 * e), 15 * e,
         [&] { kc::adamw_step(aa, param.get(), grad.get(), m.get(), v.get(), st); });
  simple(r, "ema_update", where, dims({n}), floats(3 * e), 3 * e,
         [&] { kc::ema_update(ea, ema_buf.get(), param.get(), st); });
}

void activation_cases(Runner& r) {
  const cudaStream_t st = r.stream();
  struct ActSpec {
    const char* where;
    int64_t shape[4];
  };
  // SiLU on the VQ-VAE's largest activation; tanh and hardtanh on the decoder's output image.
  const ActSpec silu{"vq.act32", {64, 32, 32, 32}}, image{"vq.dec.out", {64, 1, 32, 32}};
  auto count = [](const ActSpec& s) { return s.shape[0] * s.shape[1] * s.shape[2] * s.shape[3]; };
  auto shape_of = [](const ActSpec& s) {
    return dims({s.shape[0], s.shape[1], s.shape[2], s.shape[3]});
  };
  if (r.wants("silu_forward", silu.where) || r.wants("silu_backward", silu.where)) {
    const int64_t n = count(silu);
    const double e = static_cast<double>(n);
    DeviceBuffer<float> x = random_buffer(n, 91), dy = random_buffer(n, 92), y(n), dx(n);
    simple(r, "silu_forward", silu.where, shape_of(silu), floats(2 * e), 4 * e,
           [&] { kc::silu_forward(n, x.get(), y.get(), st); });
    simple(r, "silu_backward", silu.where, shape_of(silu), floats(3 * e), 7 * e,
           [&] { kc::silu_backward(n, x.get(), dy.get(), dx.get(), st); });
  }
  const char* names[] = {"tanh_forward", "tanh_backward", "hardtanh_forward", "hardtanh_backward"};
  bool any = false;
  for (const char* name : names) any = r.wants(name, image.where) || any;
  if (!any) return;
  const int64_t n = count(image);
  const double e = static_cast<double>(n);
  DeviceBuffer<float> x = random_buffer(n, 93, -2.0f, 2.0f), dy = random_buffer(n, 94), y(n), dx(n);
  kernels::ElementwiseArgs ha;
  ha.n = n;
  simple(r, "tanh_forward", image.where, shape_of(image), floats(2 * e), e,
         [&] { kc::tanh_forward(n, x.get(), y.get(), st); });
  simple(r, "tanh_backward", image.where, shape_of(image), floats(3 * e), 3 * e,
         [&] { kc::tanh_backward(n, y.get(), dy.get(), dx.get(), st); });
  simple(r, "hardtanh_forward", image.where, shape_of(image), floats(2 * e), 2 * e,
         [&] { kc::hardtanh_forward(ha, x.get(), y.get(), st); });
  simple(r, "hardtanh_backward", image.where, shape_of(image), floats(3 * e), 2 * e,
         [&] { kc::hardtanh_backward(ha, x.get(), dy.get(), dx.get(), st); });
}

}  // namespace ldm::bench::gpu
