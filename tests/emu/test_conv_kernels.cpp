// kernels/cuda/conv.cu through the emulator against the CPU conv kernels (float), in every
// thread order: conv2d and conv_transpose2d forward (with and without bias) and backward, on
// the models' kernel/stride/padding combinations, odd image sizes, channel counts that are not
// tile multiples, and shapes with more than one block along every GEMM dimension.
//
// Tolerances. Every output is a sum of products (a bias gradient: a plain sum) that the two
// sides add in different orders, both with FMAs. Each is checked within `ulps` float epsilons
// of the sum of its terms' magnitudes (sum |w| |x| + |bias|, etc.), which the CPU kernels
// compute in double on the absolute values of the inputs. A reordered sum of L terms differs
// by about one epsilon of that bound in practice (at most L in theory; the largest seen here is
// 2.6), so kUlps = 8, while one wrong or missing tap (about 1/L of the bound, L <= 1,120 here) is
// thousands of epsilons off. The CPU's Winograd F(2x2, 3x3) path (3x3, stride 1, padding 1, 16+
// channels on both sides) also rounds its tile transforms, sums of up to 16 terms with
// coefficients up to 1 whose partial sums can exceed the direct sum's: its largest error seen
// was 4.6 epsilons of the bound (dw at 128 -> 128 channels on 4 x 4 planes, tried once; 2.3
// on the case below), so kWinogradUlps = 16.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/winograd.h"
#include "kernels/cuda/conv.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::Conv2dArgs;

constexpr uint64_t kOrderSeed = 13;
constexpr double kUlps = 8;
constexpr double kWinogradUlps = 16;

enum class Op { kConv, kTranspose };

struct Case {
  const char* name;
  Op op;
  Conv2dArgs a;
};

// Output sizes from the input size, as PyTorch computes them.
Case make_case(const char* name, Op op, int64_t N, int64_t C_in, int64_t H, int64_t W,
               int64_t C_out, int64_t K, int64_t s, int64_t p) {
  Conv2dArgs a;
  a.N = N;
  a.C_in = C_in;
  a.H_in = H;
  a.W_in = W;
  a.C_out = C_out;
  a.kernel = K;
  a.stride = s;
  a.padding = p;
  if (op == Op::kConv) {
    a.H_out = (H + 2 * p - K) / s + 1;
    a.W_out = (W + 2 * p - K) / s + 1;
  } else {
    a.H_out = (H - 1) * s - 2 * p + K;
    a.W_out = (W - 1) * s - 2 * p + K;
  }
  return {name, op, a};
}

std::size_t x_size(const Conv2dArgs& a) {
  return static_cast<std::size_t>(a.N * a.C_in * a.H_in * a.W_in);
}
std::size_t y_size(const Conv2dArgs& a) {
  return static_cast<std::size_t>(a.N * a.C_out * a.H_out * a.W_out);
}
std::size_t w_size(const Conv2dArgs& a) {
  return static_cast<std::size_t>(a.C_out * a.C_in * a.kernel * a.kernel);
}

template <typename T>
void cpu_forward(const Case& c, const T* x, const T* w, const T* b, T* y) {
  if (c.op == Op::kConv) {
    cpu::conv2d_forward<T>(c.a, x, w, b, y);
  } else {
    cpu::conv_transpose2d_forward<T>(c.a, x, w, b, y);
  }
}

template <typename T>
void cpu_backward(const Case& c, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  if (c.op == Op::kConv) {
    cpu::conv2d_backward<T>(c.a, x, w, dy, dx, dw, db);
  } else {
    cpu::conv_transpose2d_backward<T>(c.a, x, w, dy, dx, dw, db);
  }
}

void gpu_forward(const Case& c, const float* x, const float* w, const float* b, float* y) {
  if (c.op == Op::kConv) {
    gpu::conv2d_forward(c.a, x, w, b, y, nullptr);
  } else {
    gpu::conv_transpose2d_forward(c.a, x, w, b, y, nullptr);
  }
}

void gpu_backward(const Case& c, const float* x, const float* w, const float* dy, float* dx,
                  float* dw, float* db) {
  if (c.op == Op::kConv) {
    gpu::conv2d_backward(c.a, x, w, dy, dx, dw, db, nullptr);
  } else {
    gpu::conv_transpose2d_backward(c.a, x, w, dy, dx, dw, db, nullptr);
  }
}

std::vector<double> abs_double(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = std::abs(static_cast<double>(v[i]));
  return r;
}

// One case's inputs, the CPU's outputs and the magnitude bound of each output element.
struct Reference {
  std::vector<float> x, w, bias, dy;
  std::vector<float> y, y_nobias, dx, dw, db;
  std::vector<double> y_mag, y_nobias_mag, dx_mag, dw_mag, db_mag;
  double ulps;
};

Reference reference(const Case& c, uint64_t seed) {
  const Conv2dArgs& a = c.a;
  Reference r;
  r.x = normal_floats(x_size(a), seed);
  r.w = normal_floats(w_size(a), seed + 1, 0.3f);
  r.bias = normal_floats(static_cast<std::size_t>(a.C_out), seed + 2);
  r.dy = normal_floats(y_size(a), seed + 3);
  r.y.resize(y_size(a));
  r.y_nobias.resize(y_size(a));
  r.dx.resize(x_size(a));
  r.dw.resize(w_size(a));
  r.db.resize(static_cast<std::size_t>(a.C_out));
  cpu_forward<float>(c, r.x.data(), r.w.data(), r.bias.data(), r.y.data());
  cpu_forward<float>(c, r.x.data(), r.w.data(), nullptr, r.y_nobias.data());
  cpu_backward<float>(c, r.x.data(), r.w.data(), r.dy.data(), r.dx.data(), r.dw.data(),
                      r.db.data());

  const auto x = abs_double(r.x), w = abs_double(r.w), bias = abs_double(r.bias),
             dy = abs_double(r.dy);
  r.y_mag.resize(y_size(a));
  r.y_nobias_mag.resize(y_size(a));
  r.dx_mag.resize(x_size(a));
  r.dw_mag.resize(w_size(a));
  r.db_mag.resize(static_cast<std::size_t>(a.C_out));
  cpu_forward<double>(c, x.data(), w.data(), bias.data(), r.y_mag.data());
  cpu_forward<double>(c, x.data(), w.data(), nullptr, r.y_nobias_mag.data());
  cpu_backward<double>(c, x.data(), w.data(), dy.data(), r.dx_mag.data(), r.dw_mag.data(),
                       r.db_mag.data());
  const bool winograd = c.op == Op::kConv && cpu::winograd_applies(a);
  r.ulps = winograd ? kWinogradUlps : kUlps;
  return r;
}

void check_case(const Case& c, uint64_t seed) {
  INFO(c.name);
  const Reference r = reference(c, seed);
  const Conv2dArgs& a = c.a;
  for_each_order(kOrderSeed, [&] {
    std::vector<float> y(y_size(a)), dx(x_size(a)), dw(w_size(a)),
        db(static_cast<std::size_t>(a.C_out));
    gpu_forward(c, r.x.data(), r.w.data(), r.bias.data(), y.data());
    CHECK(within_eps(y, r.y, r.y_mag, r.ulps));
    gpu_forward(c, r.x.data(), r.w.data(), nullptr, y.data());
    CHECK(within_eps(y, r.y_nobias, r.y_nobias_mag, r.ulps));
    gpu_backward(c, r.x.data(), r.w.data(), r.dy.data(), dx.data(), dw.data(), db.data());
    CHECK(within_eps(dx, r.dx, r.dx_mag, r.ulps));
    CHECK(within_eps(dw, r.dw, r.dw_mag, r.ulps));
    CHECK(within_eps(db, r.db, r.db_mag, r.ulps));
  });
}

// conv2d: the models' k1 s1 p0, k3 s1 p1 (direct and, with 16+ channels, Winograd on the CPU),
// k3 s2 p1, k4 s2 p1; plus 3x3 without padding, a strided 1x1, and a 1x1 on a plane wide
// enough for the CPU's direct path. Channel counts 3..19 leave every tile partial.
const Case kConvCases[] = {
    make_case("conv k1 s1 p0, 3->5, 2x5x7", Op::kConv, 2, 3, 5, 7, 5, 1, 1, 0),
    make_case("conv k1 s1 p0, 3->5, 2x16x17 (CPU direct path)", Op::kConv, 2, 3, 16, 17, 5, 1, 1,
              0),
    make_case("conv k1 s2 p0, 4->3, 2x5x7", Op::kConv, 2, 4, 5, 7, 3, 1, 2, 0),
    make_case("conv k3 s1 p1, 3->5, 2x9x7", Op::kConv, 2, 3, 9, 7, 5, 3, 1, 1),
    make_case("conv k3 s1 p1, 19->17, 2x5x7 (CPU Winograd)", Op::kConv, 2, 19, 5, 7, 17, 3, 1, 1),
    make_case("conv k3 s1 p0, 4->6, 2x7x9", Op::kConv, 2, 4, 7, 9, 6, 3, 1, 0),
    make_case("conv k3 s2 p1, 5->3, 3x9x7", Op::kConv, 3, 5, 9, 7, 3, 3, 2, 1),
    make_case("conv k4 s2 p1, 3->5, 2x9x7", Op::kConv, 2, 3, 9, 7, 5, 4, 2, 1),
};

// conv_transpose2d: the models' k4 s2 p1, plus 3x3 s1 p1, 3x3 s2 p0 and a 1x1 at stride 2,
// whose odd output pixels no tap reaches (bias only).
const Case kTransposeCases[] = {
    make_case("transpose k4 s2 p1, 5->3, 2x5x7", Op::kTranspose, 2, 5, 5, 7, 3, 4, 2, 1),
    make_case("transpose k3 s1 p1, 4->6, 2x5x7", Op::kTranspose, 2, 4, 5, 7, 6, 3, 1, 1),
    make_case("transpose k3 s2 p0, 3->5, 3x4x5", Op::kTranspose, 3, 3, 4, 5, 5, 3, 2, 0),
    make_case("transpose k1 s2 p0, 3->4, 2x3x4", Op::kTranspose, 2, 3, 3, 4, 4, 1, 2, 0),
};

TEST_CASE("emulated conv2d matches the CPU", "[emu][conv]") {
  uint64_t seed = 100;
  for (const Case& c : kConvCases) check_case(c, seed += 10);
}

TEST_CASE("emulated conv_transpose2d matches the CPU", "[emu][conv]") {
  uint64_t seed = 200;
  for (const Case& c : kTransposeCases) check_case(c, seed += 10);
}

// More than one 64 x 64 tile along M and the columns of every pass (and many k stages), so that
// tile and stage boundaries are crossed: conv2d's dx has 70 rows and its 6 x 6 x 3 parity
// classes 108 columns; dw 66 rows and 630 columns.
TEST_CASE("emulated convolutions match the CPU across tile boundaries", "[emu][conv]") {
  check_case(make_case("conv k3 s2 p1, 70->66, 3x11x11", Op::kConv, 3, 70, 11, 11, 66, 3, 2, 1),
             300);
  check_case(
      make_case("transpose k4 s2 p1, 66->70, 2x6x6", Op::kTranspose, 2, 66, 6, 6, 70, 4, 2, 1),
      310);
}

// Every subset of {dx, dw, db}: the null ones are skipped, the others still right.
TEST_CASE("emulated conv backward computes only the requested gradients", "[emu][conv]") {
  const Case cases[] = {
      make_case("conv k3 s2 p1, 5->3, 2x7x5", Op::kConv, 2, 5, 7, 5, 3, 3, 2, 1),
      make_case("transpose k4 s2 p1, 3->5, 2x3x5", Op::kTranspose, 2, 3, 3, 5, 5, 4, 2, 1),
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Reference r = reference(c, 400);
    const Conv2dArgs& a = c.a;
    for (int mask = 0; mask < 8; ++mask) {
      INFO("outputs mask " << mask);
      std::vector<float> dx(x_size(a)), dw(w_size(a)), db(static_cast<std::size_t>(a.C_out));
      gpu_backward(c, r.x.data(), r.w.data(), r.dy.data(), mask & 1 ? dx.data() : nullptr,
                   mask & 2 ? dw.data() : nullptr, mask & 4 ? db.data() : nullptr);
      if (mask & 1) CHECK(within_eps(dx, r.dx, r.dx_mag, r.ulps));
      if (mask & 2) CHECK(within_eps(dw, r.dw, r.dw_mag, r.ulps));
      if (mask & 4) CHECK(within_eps(db, r.db, r.db_mag, r.ulps));
    }
  }
}

// An empty batch: nothing to write but the gradients of the parameters, which are zeros.
TEST_CASE("emulated conv backward on an empty batch zeroes dw and db", "[emu][conv]") {
  for (Op op : {Op::kConv, Op::kTranspose}) {
    const Case c = make_case("empty batch", op, 0, 3, 5, 5, 4, 3, 2, 1);
    std::vector<float> w = normal_floats(w_size(c.a), 1), dw(w_size(c.a), 1.0f), db(4, 1.0f);
    gpu_forward(c, nullptr, w.data(), nullptr, nullptr);
    gpu_backward(c, nullptr, w.data(), nullptr, nullptr, dw.data(), db.data());
    CHECK(dw == std::vector<float>(w_size(c.a), 0.0f));
    CHECK(db == std::vector<float>(4, 0.0f));
  }
}

}  // namespace
}  // namespace ldm::test
