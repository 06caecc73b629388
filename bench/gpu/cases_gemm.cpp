// Linear, batched matmul, softmax and attention cases at the U-Net's shapes (batch 64; attention
// BH = 64 x 4 heads, L = 16, D = 32). Linear and matmul run against cuBLAS and are checked
// against its result; softmax and attention have no vendor counterpart here.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bench/gpu/reference.h"
#include "bench/gpu/runner.h"
#include "kernels/cuda/matmul.h"

namespace ldm::bench::gpu {
namespace {

namespace kc = ::ldm::kernels::cuda;

double floats(double n) {
  return 4.0 * n;
}
long long ll(int64_t v) {
  return static_cast<long long>(v);
}

struct LinearSpec {
  const char* where;
  int64_t M, K, N;
};

// M = batch. time_embed: base 64 -> 4 x 64; emb_proj: 256 -> a level's channels.
constexpr LinearSpec kLinears[] = {
    {"unet.time_embed1", 64, 64, 256},
    {"unet.time_embed2", 64, 256, 256},
    {"unet.emb_proj128", 64, 256, 128},
    {"linear.64x512x128", 64, 512, 128},
};

void linear_case(Runner& r, const LinearSpec& s) {
  const bool fwd = r.wants("linear_forward", s.where), bwd = r.wants("linear_backward", s.where);
  if (!fwd && !bwd) return;
  kernels::MatmulArgs a;
  a.M = s.M;
  a.N = s.N;
  a.K = s.K;
  a.has_bias = true;
  const float w_scale = 1.0f / std::sqrt(static_cast<float>(s.K));
  DeviceBuffer<float> x = random_buffer(s.M * s.K, 11),
                      w = random_buffer(s.N * s.K, 12, -w_scale, w_scale),
                      b = random_buffer(s.N, 13), dy = random_buffer(s.M * s.N, 14);
  DeviceBuffer<float> y(s.M * s.N), y_ref(s.M * s.N), dx(s.M * s.K), dx_ref(s.M * s.K),
      dw(s.N * s.K), dw_ref(s.N * s.K), db(s.N), db_ref(s.N);
  DeviceBuffer<float> ones(s.M);
  ones.upload(std::vector<float>(static_cast<size_t>(s.M), 1.0f));
  const std::string shape = format("M%lld K%lld N%lld +bias", ll(s.M), ll(s.K), ll(s.N));
  const double mnk = static_cast<double>(s.M) * s.N * s.K;
  const cudaStream_t st = r.stream();
  cublasHandle_t h = r.cublas();

  if (fwd) {
    Measurement m{"linear_forward", s.where, shape};
    m.bytes = floats(static_cast<double>(s.M * s.K + s.N * s.K + s.N + s.M * s.N));
    m.flops = 2 * mnk + static_cast<double>(s.M * s.N);
    m.ours = [&] { kc::linear_forward(a, x.get(), w.get(), b.get(), y.get(), st); };
    // Timed without the bias (sgemm has none; it costs one extra read of N floats).
    m.ref = [&] { cublas_linear_forward(h, s.M, s.N, s.K, x.get(), w.get(), 0.0f, y_ref.get()); };
    m.ref_name = [] { return std::string("cublasSgemm (no bias)"); };
    m.verify = [&] {
      m.ours();
      // The check includes the bias: y_ref starts as the bias broadcast over rows, beta = 1.
      const std::vector<float> bias = b.download();
      std::vector<float> init(static_cast<size_t>(s.M * s.N));
      for (size_t i = 0; i < init.size(); ++i) init[i] = bias[i % static_cast<size_t>(s.N)];
      y_ref.upload(init);
      cublas_linear_forward(h, s.M, s.N, s.K, x.get(), w.get(), 1.0f, y_ref.get());
      return max_relative_error(y, y_ref);
    };
    r.measure(m);
  }
  if (bwd) {
    Measurement m{"linear_backward", s.where, shape};
    m.bytes = floats(2.0 * (s.M * s.K + s.N * s.K) + s.M * s.N + s.N);
    m.flops = 4 * mnk + static_cast<double>(s.M * s.N);
    m.ours = [&] {
      kc::linear_backward(a, x.get(), w.get(), dy.get(), dx.get(), dw.get(), db.get(), st);
    };
    m.ref = [&] {
      cublas_linear_backward(h, s.M, s.N, s.K, x.get(), w.get(), dy.get(), ones.get(), dx_ref.get(),
                             dw_ref.get(), db_ref.get());
    };
    m.ref_name = [] { return std::string("cublasSgemm x2 + cublasSgemv"); };
    m.verify = [&] {
      m.ours();
      m.ref();
      return std::max({max_relative_error(dx, dx_ref), max_relative_error(dw, dw_ref),
                       max_relative_error(db, db_ref)});
    };
    r.measure(m);
  }
}

struct MatmulSpec {
  const char* where;
  int64_t B, M, K, N;
};

// Attention's two products as plain batched matmuls: q k^T and probs v.
constexpr MatmulSpec kMatmuls[] = {
    {"unet.attn.qk", 256, 16, 32, 16},
    {"unet.attn.pv", 256, 16, 16, 32},
};

void matmul_case(Runner& r, const MatmulSpec& s) {
  const bool fwd = r.wants("matmul_forward", s.where), bwd = r.wants("matmul_backward", s.where);
  if (!fwd && !bwd) return;
  kernels::MatmulArgs a;
  a.batch = s.B;
  a.M = s.M;
  a.N = s.N;
  a.K = s.K;
  const int64_t x_n = s.B * s.M * s.K, y_n = s.B * s.K * s.N, o_n = s.B * s.M * s.N;
  DeviceBuffer<float> x = random_buffer(x_n, 21), y = random_buffer(y_n, 22),
                      dout = random_buffer(o_n, 23);
  DeviceBuffer<float> out(o_n), out_ref(o_n), dx(x_n), dx_ref(x_n), dy(y_n), dy_ref(y_n);
  const std::string shape = format("B%lld M%lld K%lld N%lld", ll(s.B), ll(s.M), ll(s.K), ll(s.N));
  const double bmnk = static_cast<double>(s.B) * s.M * s.N * s.K;
  const cudaStream_t st = r.stream();
  cublasHandle_t h = r.cublas();

  if (fwd) {
    Measurement m{"matmul_forward", s.where, shape};
    m.bytes = floats(static_cast<double>(x_n + y_n + o_n));
    m.flops = 2 * bmnk;
    m.ours = [&] { kc::matmul_forward(a, x.get(), y.get(), out.get(), st); };
    m.ref = [&] { cublas_matmul_forward(h, s.B, s.M, s.N, s.K, x.get(), y.get(), out_ref.get()); };
    m.ref_name = [] { return std::string("cublasSgemmStridedBatched"); };
    m.verify = [&] {
      m.ours();
      m.ref();
      return max_relative_error(out, out_ref);
    };
    r.measure(m);
  }
  if (bwd) {
    Measurement m{"matmul_backward", s.where, shape};
    m.bytes = floats(2.0 * (x_n + y_n) + o_n);
    m.flops = 4 * bmnk;
    m.ours = [&] { kc::matmul_backward(a, x.get(), y.get(), dout.get(), dx.get(), dy.get(), st); };
    m.ref = [&] {
      cublas_matmul_backward(h, s.B, s.M, s.N, s.K, x.get(), y.get(), dout.get(), dx_ref.get(),
                             dy_ref.get());
    };
    m.ref_name = [] { return std::string("cublasSgemmStridedBatched x2"); };
    m.verify = [&] {
      m.ours();
      m.ref();
      return std::max(max_relative_error(dx, dx_ref), max_relative_error(dy, dy_ref));
    };
    r.measure(m);
  }
}

constexpr int64_t kBH = 256, kL = 16, kD = 32;

void softmax_attention_cases(Runner& r) {
  const char* where = "unet.attn";
  const bool sm_f = r.wants("softmax_forward", where), sm_b = r.wants("softmax_backward", where);
  const bool at_f = r.wants("attention_forward", where),
             at_b = r.wants("attention_backward", where);
  if (!sm_f && !sm_b && !at_f && !at_b) return;
  const cudaStream_t st = r.stream();

  // Softmax over the attention scores' rows: [BH * L, L].
  kernels::SoftmaxArgs sa;
  sa.rows = kBH * kL;
  sa.cols = kL;
  const int64_t s_n = sa.rows * sa.cols;
  const double s_elems = static_cast<double>(s_n);
  const std::string s_shape = dims({sa.rows, sa.cols});
  DeviceBuffer<float> sx = random_buffer(s_n, 31, -4.0f, 4.0f), sdy = random_buffer(s_n, 32);
  DeviceBuffer<float> sy(s_n), sdx(s_n);
  kc::softmax_forward(sa, sx.get(), sy.get(), st);  // the backward's y
  if (sm_f) {
    Measurement m{"softmax_forward", where, s_shape};
    m.bytes = floats(2 * s_elems);
    m.flops = 5 * s_elems;  // max, subtract, exp, sum, scale
    m.ours = [&] { kc::softmax_forward(sa, sx.get(), sy.get(), st); };
    r.measure(m);
  }
  if (sm_b) {
    Measurement m{"softmax_backward", where, s_shape};
    m.bytes = floats(3 * s_elems);
    m.flops = 4 * s_elems;  // y dy, sum, subtract, multiply
    m.ours = [&] { kc::softmax_backward(sa, sy.get(), sdy.get(), sdx.get(), st); };
    r.measure(m);
  }

  kernels::AttentionArgs aa;
  aa.BH = kBH;
  aa.L = kL;
  aa.D = kD;
  aa.scale = 1.0 / std::sqrt(static_cast<double>(kD));
  const int64_t qkv_n = kBH * kL * kD, p_n = kBH * kL * kL;
  const double l2d = static_cast<double>(kBH) * kL * kL * kD, l2 = static_cast<double>(p_n);
  const std::string a_shape = format("BH%lld L%lld D%lld", ll(kBH), ll(kL), ll(kD));
  DeviceBuffer<float> q = random_buffer(qkv_n, 33), k = random_buffer(qkv_n, 34),
                      v = random_buffer(qkv_n, 35), dout = random_buffer(qkv_n, 36);
  DeviceBuffer<float> out(qkv_n), probs(p_n), dq(qkv_n), dk(qkv_n), dv(qkv_n);
  kc::attention_forward(aa, q.get(), k.get(), v.get(), out.get(), probs.get(), st);
  if (at_f) {
    Measurement m{"attention_forward", where, a_shape};
    m.bytes = floats(4.0 * qkv_n + p_n);
    m.flops = 4 * l2d + 5 * l2;  // q k^T, probs v, and the softmax
    m.ours = [&] {
      kc::attention_forward(aa, q.get(), k.get(), v.get(), out.get(), probs.get(), st);
    };
    r.measure(m);
  }
  if (at_b) {
    Measurement m{"attention_backward", where, a_shape};
    m.bytes = floats(7.0 * qkv_n + p_n);
    m.flops = 8 * l2d + 3 * l2;  // dv, dprobs, dq, dk products and the softmax backward
    m.ours = [&] {
      kc::attention_backward(aa, q.get(), k.get(), v.get(), probs.get(), dout.get(), dq.get(),
                             dk.get(), dv.get(), st);
    };
    r.measure(m);
  }
}

}  // namespace

void gemm_cases(Runner& r) {
  for (const LinearSpec& s : kLinears) linear_case(r, s);
  for (const MatmulSpec& s : kMatmuls) matmul_case(r, s);
  softmax_attention_cases(r);
}

}  // namespace ldm::bench::gpu
