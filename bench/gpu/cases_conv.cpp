// Convolution cases: every conv2d and conv_transpose2d shape of the default VQ-VAE and U-Net
// (batch 64), forward and the three backward variants (dx only, dw + db, all), each against
// cuDNN on the same buffers and checked against its result.
#include <algorithm>
#include <string>

#include "bench/gpu/reference.h"
#include "bench/gpu/runner.h"
#include "kernels/cuda/conv.h"

namespace ldm::bench::gpu {
namespace {

namespace kc = ::ldm::kernels::cuda;

constexpr int64_t kBatch = 64;

struct ConvSpec {
  const char* where;
  int64_t C_in, H_in, C_out, kernel, stride, padding;
  bool transposed;
};

// H = W throughout. Transposed convs are the decoder's 4x4 s2 p1 upsamplers.
constexpr ConvSpec kConvs[] = {
    {"vq.enc.conv_in", 3, 32, 32, 3, 1, 1, false},
    {"vq.enc.res32", 32, 32, 32, 3, 1, 1, false},
    {"vq.enc.down32", 32, 32, 32, 4, 2, 1, false},
    {"vq.enc.res32to64", 32, 16, 64, 3, 1, 1, false},
    {"vq.enc.res64", 64, 16, 64, 3, 1, 1, false},
    {"vq.enc.down64", 64, 16, 64, 4, 2, 1, false},
    {"vq.enc.res128", 128, 8, 128, 3, 1, 1, false},
    {"vq.enc.conv_out", 128, 8, 3, 1, 1, 0, false},
    {"vq.dec.conv_in", 3, 8, 128, 3, 1, 1, false},
    {"vq.dec.up128", 128, 8, 128, 4, 2, 1, true},
    {"vq.dec.up64", 64, 16, 64, 4, 2, 1, true},
    {"vq.dec.conv_out", 32, 32, 3, 3, 1, 1, false},
    {"unet.conv_in", 3, 8, 64, 3, 1, 1, false},
    {"unet.res64", 64, 8, 64, 3, 1, 1, false},
    {"unet.down64", 64, 8, 64, 3, 2, 1, false},
    {"unet.res128", 128, 4, 128, 3, 1, 1, false},
    {"unet.attn.qkv", 128, 4, 384, 1, 1, 0, false},
    {"unet.up.conv128", 128, 8, 128, 3, 1, 1, false},
};

double floats(int64_t n) {
  return 4.0 * static_cast<double>(n);
}

void conv_case(Runner& r, const ConvSpec& s) {
  const std::string fam = s.transposed ? "conv_transpose2d" : "conv2d";
  const std::string n_fwd = fam + "_forward", n_dx = fam + "_backward[dx]",
                    n_dw = fam + "_backward[dw,db]", n_all = fam + "_backward";
  const bool fwd = r.wants(n_fwd, s.where), dx = r.wants(n_dx, s.where),
             dw = r.wants(n_dw, s.where), all = r.wants(n_all, s.where);
  if (!fwd && !dx && !dw && !all) return;

  kernels::Conv2dArgs a;
  a.N = kBatch;
  a.C_in = s.C_in;
  a.H_in = a.W_in = s.H_in;
  a.C_out = s.C_out;
  a.H_out = a.W_out = s.transposed ? (s.H_in - 1) * s.stride - 2 * s.padding + s.kernel
                                   : (s.H_in + 2 * s.padding - s.kernel) / s.stride + 1;
  a.kernel = s.kernel;
  a.stride = s.stride;
  a.padding = s.padding;
  a.has_bias = true;
  const int64_t x_n = a.N * a.C_in * a.H_in * a.W_in, y_n = a.N * a.C_out * a.H_out * a.W_out;
  const int64_t w_n = a.C_out * a.C_in * a.kernel * a.kernel;

  // cuDNN's cross-correlation: conv2d as written; conv_transpose2d as its adjoint, whose
  // "input" is our output (see reference.h).
  ConvGeometry g;
  g.N = a.N;
  g.kernel = a.kernel;
  g.stride = a.stride;
  g.padding = a.padding;
  if (s.transposed) {
    g.C = a.C_out, g.H = a.H_out, g.W = a.W_out;
    g.K = a.C_in, g.Ho = a.H_in, g.Wo = a.W_in;
  } else {
    g.C = a.C_in, g.H = a.H_in, g.W = a.W_in;
    g.K = a.C_out, g.Ho = a.H_out, g.Wo = a.W_out;
  }
  CudnnConv cudnn(r.cudnn(), g, r.options().deterministic_ref);
  const Side bias_side = s.transposed ? Side::kX : Side::kY;

  // Scaled so outputs stay O(1) whatever the fan-in.
  const float w_scale = 1.0f / static_cast<float>(s.C_in * s.kernel);
  DeviceBuffer<float> x = random_buffer(x_n, 1), w = random_buffer(w_n, 2, -w_scale, w_scale),
                      b = random_buffer(a.C_out, 3), dy = random_buffer(y_n, 4);
  DeviceBuffer<float> y(y_n), y_ref(y_n), dx_buf(x_n), dx_ref(x_n), dw_buf(w_n), dw_ref(w_n),
      db_buf(a.C_out), db_ref(a.C_out);

  const std::string shape =
      dims({a.N, a.C_in, a.H_in, a.W_in}) + " -> " + dims({a.C_out, a.H_out, a.W_out}) +
      format(" k%llds%lldp%lld", static_cast<long long>(a.kernel), static_cast<long long>(a.stride),
             static_cast<long long>(a.padding));
  // Every (output, input channel, tap) product once, padding taps included (the usual count).
  const double macs = s.transposed ? static_cast<double>(x_n) * a.C_out * a.kernel * a.kernel
                                   : static_cast<double>(y_n) * a.C_in * a.kernel * a.kernel;
  const cudaStream_t st = r.stream();

  auto ours_fwd = [&] {
    if (s.transposed)
      kc::conv_transpose2d_forward(a, x.get(), w.get(), b.get(), y.get(), st);
    else
      kc::conv2d_forward(a, x.get(), w.get(), b.get(), y.get(), st);
  };
  auto ours_bwd = [&](float* dxp, float* dwp, float* dbp) {
    if (s.transposed)
      kc::conv_transpose2d_backward(a, x.get(), w.get(), dy.get(), dxp, dwp, dbp, st);
    else
      kc::conv2d_backward(a, x.get(), w.get(), dy.get(), dxp, dwp, dbp, st);
  };
  auto ref_fwd = [&] {
    if (s.transposed)
      cudnn.backward_data(w.get(), x.get(), y_ref.get());
    else
      cudnn.forward(x.get(), w.get(), y_ref.get());
    cudnn.add_bias(bias_side, b.get(), y_ref.get());
  };
  auto ref_dx = [&] {
    if (s.transposed)
      cudnn.forward(dy.get(), w.get(), dx_ref.get());
    else
      cudnn.backward_data(w.get(), dy.get(), dx_ref.get());
  };
  auto ref_dw = [&] {
    if (s.transposed)
      cudnn.backward_filter(dy.get(), x.get(), dw_ref.get());
    else
      cudnn.backward_filter(x.get(), dy.get(), dw_ref.get());
    cudnn.backward_bias(bias_side, dy.get(), db_ref.get());
  };
  // Which cuDNN call computes what depends on the direction.
  auto fwd_name = [&] {
    return s.transposed ? "cuDNN bwd-data " + cudnn.backward_data_algo() + " +bias"
                        : "cuDNN fwd " + cudnn.forward_algo() + " +bias";
  };
  auto dx_name = [&] {
    return s.transposed ? "cuDNN fwd " + cudnn.forward_algo()
                        : "cuDNN bwd-data " + cudnn.backward_data_algo();
  };
  auto dw_name = [&] { return "cuDNN bwd-filter " + cudnn.backward_filter_algo() + " +bias"; };
  auto err_dx = [&] { return max_relative_error(dx_buf, dx_ref); };
  auto err_dw = [&] {
    return std::max(max_relative_error(dw_buf, dw_ref), max_relative_error(db_buf, db_ref));
  };

  if (fwd) {
    Measurement m{n_fwd, s.where, shape};
    m.bytes = floats(x_n + w_n + a.C_out + y_n);
    m.flops = 2 * macs + static_cast<double>(y_n);
    m.ours = ours_fwd;
    m.ref = ref_fwd;
    m.ref_name = fwd_name;
    m.verify = [&] {
      ours_fwd();
      ref_fwd();
      return max_relative_error(y, y_ref);
    };
    r.measure(m);
  }
  if (dx) {
    Measurement m{n_dx, s.where, shape};
    m.bytes = floats(y_n + w_n + x_n);
    m.flops = 2 * macs;
    m.ours = [&] { ours_bwd(dx_buf.get(), nullptr, nullptr); };
    m.ref = ref_dx;
    m.ref_name = dx_name;
    m.verify = [&] {
      m.ours();
      ref_dx();
      return err_dx();
    };
    r.measure(m);
  }
  if (dw) {
    Measurement m{n_dw, s.where, shape};
    m.bytes = floats(x_n + y_n + w_n + a.C_out);
    m.flops = 2 * macs + static_cast<double>(y_n);
    m.ours = [&] { ours_bwd(nullptr, dw_buf.get(), db_buf.get()); };
    m.ref = ref_dw;
    m.ref_name = dw_name;
    m.verify = [&] {
      m.ours();
      ref_dw();
      return err_dw();
    };
    r.measure(m);
  }
  if (all) {
    Measurement m{n_all, s.where, shape};
    m.bytes = floats(x_n + w_n + y_n + x_n + w_n + a.C_out);
    m.flops = 4 * macs + static_cast<double>(y_n);
    m.ours = [&] { ours_bwd(dx_buf.get(), dw_buf.get(), db_buf.get()); };
    m.ref = [&] {
      ref_dx();
      ref_dw();
    };
    m.ref_name = [&] { return dx_name() + " + " + dw_name().substr(6); };
    m.verify = [&] {
      m.ours();
      m.ref();
      return std::max(err_dx(), err_dw());
    };
    r.measure(m);
  }
}

}  // namespace

void conv_cases(Runner& r) {
  for (const ConvSpec& s : kConvs) conv_case(r, s);
}

}  // namespace ldm::bench::gpu
