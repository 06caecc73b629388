// The tape: gradients of composed graphs against hand-derived formulas, accumulation, no-grad
// scopes, release of saved tensors, and the retain-graph contract.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/allocator.h"
#include "core/ops.h"
#include "core/rng.h"

namespace ldm::test {
namespace {

using Catch::Matchers::Contains;

int64_t bytes_in_use() {
  return allocator_for(Device::cpu()).stats().bytes_in_use;
}

Tensor leaf(std::initializer_list<double> values, const Shape& shape) {
  Tensor t = Tensor::from_vector<double>(values, shape);
  t.set_requires_grad(true);
  return t;
}

// |a - b| <= tol elementwise, with a message naming the first mismatch.
void check_close(const Tensor& actual, const std::vector<double>& expected, double tol) {
  REQUIRE(actual.defined());
  const std::vector<double> got = actual.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
    CHECK(std::abs(got[i] - expected[i]) <= tol);
  }
}

double sigmoid(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}
double silu_ref(double v) {
  return v * sigmoid(v);
}
double silu_grad_ref(double v) {
  return sigmoid(v) * (1.0 + v * (1.0 - sigmoid(v)));
}

TEST_CASE("mse_loss(linear(silu(x)), y) has the hand-derived gradients", "[autograd]") {
  // x [N=2, K=3], w [M=2, K=3], b [M], y [N, M]; f64 so the tolerance is a few ulps.
  const std::vector<double> xv = {0.5, -1.0, 2.0, -0.25, 1.5, 0.0};
  const std::vector<double> wv = {0.1, -0.2, 0.3, 0.7, 0.5, -0.4};
  const std::vector<double> bv = {0.05, -0.1};
  const std::vector<double> yv = {0.3, -0.6, 1.2, 0.4};
  Tensor x = Tensor::from_vector<double>(xv, {2, 3}).set_requires_grad(true);
  Tensor w = Tensor::from_vector<double>(wv, {2, 3}).set_requires_grad(true);
  Tensor b = Tensor::from_vector<double>(bv, {2}).set_requires_grad(true);
  const Tensor y = Tensor::from_vector<double>(yv, {2, 2});

  const Tensor loss = ops::mse_loss(ops::linear(ops::silu(x), w, b), y);
  CHECK(loss.shape() == Shape{});
  CHECK(loss.requires_grad());
  CHECK(!loss.is_leaf());
  backward(loss);

  // h = silu(x); z = h w^T + b; L = mean((z - y)^2) over N*M = 4 values.
  double h[2][3], dz[2][2], loss_ref = 0;
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 3; ++k) h[n][k] = silu_ref(xv[static_cast<size_t>(n * 3 + k)]);
  for (int n = 0; n < 2; ++n)
    for (int m = 0; m < 2; ++m) {
      double z = bv[static_cast<size_t>(m)];
      for (int k = 0; k < 3; ++k) z += h[n][k] * wv[static_cast<size_t>(m * 3 + k)];
      const double diff = z - yv[static_cast<size_t>(n * 2 + m)];
      loss_ref += diff * diff / 4;
      dz[n][m] = 2 * diff / 4;
    }
  std::vector<double> dx(6), dw(6, 0.0), db(2, 0.0);
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 3; ++k) {
      double dh = 0;
      for (int m = 0; m < 2; ++m) dh += dz[n][m] * wv[static_cast<size_t>(m * 3 + k)];
      dx[static_cast<size_t>(n * 3 + k)] = dh * silu_grad_ref(xv[static_cast<size_t>(n * 3 + k)]);
    }
  for (int m = 0; m < 2; ++m)
    for (int n = 0; n < 2; ++n) {
      db[static_cast<size_t>(m)] += dz[n][m];
      for (int k = 0; k < 3; ++k) dw[static_cast<size_t>(m * 3 + k)] += dz[n][m] * h[n][k];
    }

  CHECK(std::abs(loss.item() - loss_ref) <= 1e-14);
  check_close(x.grad(), dx, 1e-14);
  check_close(w.grad(), dw, 1e-14);
  check_close(b.grad(), db, 1e-14);
  CHECK(x.grad().shape() == x.shape());
  CHECK(x.grad().dtype() == DType::kF64);
  CHECK(!y.grad().defined());  // never marked: gets nothing
}

TEST_CASE("leaf gradients accumulate (+=) across backward calls", "[autograd]") {
  Tensor x = leaf({1.0, -2.0, 3.0}, {3});
  const Tensor target = Tensor::zeros({3}, DType::kF64);
  // d/dx mean((3x)^2) = 18 x / 3 = 6x.
  backward(ops::mse_loss(ops::scale(x, 3.0), target));
  check_close(x.grad(), {6.0, -12.0, 18.0}, 1e-13);
  const Tensor first = x.grad();
  backward(ops::mse_loss(ops::scale(x, 3.0), target));
  check_close(x.grad(), {12.0, -24.0, 36.0}, 1e-13);
  check_close(first, {6.0, -12.0, 18.0}, 1e-13);  // += makes a new sum, not an in-place write
  x.zero_grad();
  CHECK(!x.grad().defined());
  backward(ops::mse_loss(ops::scale(x, 3.0), target));
  check_close(x.grad(), {6.0, -12.0, 18.0}, 1e-13);
}

TEST_CASE("a tensor used twice gets the sum of both paths", "[autograd]") {
  SECTION("the same tensor twice in one op") {
    Tensor x = leaf({1.5, -0.5}, {2});
    const Tensor y = ops::mul(x, x);  // d/dx x^2 = 2x
    backward(y, Tensor::from_vector<double>({1.0, 1.0}, {2}));
    check_close(x.grad(), {3.0, -1.0}, 1e-15);
  }
  SECTION("a leaf feeding two ops") {
    Tensor x = leaf({0.5, -1.25}, {2});
    // y = silu(x) + 3x: dy/dx = silu'(x) + 3.
    const Tensor y = ops::add(ops::silu(x), ops::scale(x, 3.0));
    backward(y, Tensor::from_vector<double>({1.0, 2.0}, {2}));
    check_close(x.grad(), {silu_grad_ref(0.5) + 3, 2 * (silu_grad_ref(-1.25) + 3)}, 1e-14);
  }
  SECTION("an intermediate feeding two ops") {
    Tensor x = leaf({0.75, -2.0, 0.1}, {3});
    const Tensor h = ops::silu(x);
    // y = 2h + h*h: dy/dh = 2 + 2h, so dy/dx = (2 + 2h) silu'(x).
    const Tensor y = ops::add(ops::scale(h, 2.0), ops::mul(h, h));
    backward(y, Tensor::full({3}, 1.0, DType::kF64));
    std::vector<double> expected;
    for (double v : {0.75, -2.0, 0.1}) expected.push_back((2 + 2 * silu_ref(v)) * silu_grad_ref(v));
    check_close(x.grad(), expected, 1e-14);
  }
}

TEST_CASE("an explicit output gradient seeds backward; a one-element root defaults to 1",
          "[autograd]") {
  Tensor x = leaf({1.0, 2.0, 3.0, 4.0}, {2, 2});
  backward(ops::scale(x, -2.0), Tensor::from_vector<double>({1.0, 0.5, 0.0, -1.0}, {2, 2}));
  check_close(x.grad(), {-2.0, -1.0, 0.0, 2.0}, 0);

  Tensor s = leaf({3.0}, {});
  backward(s);  // the root is itself a leaf
  check_close(s.grad(), {1.0}, 0);
}

TEST_CASE("NoGradGuard records nothing and restores the previous mode", "[autograd]") {
  Tensor x = leaf({1.0, 2.0}, {2});
  CHECK(grad_enabled());
  {
    NoGradGuard no_grad;
    CHECK(!grad_enabled());
    const Tensor y = ops::silu(ops::scale(x, 2.0));
    CHECK(!y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(!ops::reshape(x, {2, 1}).requires_grad());
    CHECK_THROWS_AS(backward(ops::mse_loss(y, y)), Error);  // nothing to differentiate
    {
      NoGradGuard nested;
      CHECK(!grad_enabled());
    }
    CHECK(!grad_enabled());  // the inner guard restores "off", not "on"
    // Grad mode is per thread: a thread started here records as usual.
    bool other_thread_enabled = false;
    std::thread([&] { other_thread_enabled = grad_enabled(); }).join();
    CHECK(other_thread_enabled);
  }
  CHECK(grad_enabled());
  const Tensor z = ops::silu(x);
  CHECK(z.requires_grad());
  CHECK(!z.is_leaf());
  CHECK(!x.grad().defined());
}

TEST_CASE("ops on inputs that need no gradient record nothing", "[autograd]") {
  const Tensor a = Tensor::full({3}, 2.0);
  const Tensor b = ops::mul(ops::silu(a), a);
  CHECK(!b.requires_grad());
  CHECK(b.is_leaf());
  Tensor w = Tensor::full({3}, 1.0).set_requires_grad(true);
  const Tensor c = ops::mul(a, w);
  CHECK(c.requires_grad());
  backward(c, Tensor::full({3}, 1.0));
  CHECK(!a.grad().defined());
  check_close(w.grad(), {2.0, 2.0, 2.0}, 0);
}

TEST_CASE("backward releases a node's saved tensors unless the graph is retained", "[autograd]") {
  SECTION("a tensor captured in a node's closure") {
    for (RetainGraph retain : {RetainGraph::kNo, RetainGraph::kYes}) {
      Tensor x = leaf({1.0, 2.0}, {2});
      std::weak_ptr<TensorImpl> saved_impl;
      Tensor y;
      {
        const Tensor saved = Tensor::full({2}, 5.0, DType::kF64);
        saved_impl = saved.impl_ptr();
        y = Tensor::empty({2}, DType::kF64);
        const Tensor inputs[] = {x};
        Tensor outputs[] = {y};
        record_node("test_scale_by_saved", inputs, outputs, [saved](std::span<const Tensor> g) {
          return std::vector<Tensor>{ops::mul(g[0], saved)};
        });
      }
      REQUIRE(!saved_impl.expired());  // only the node holds it now
      backward(y, Tensor::full({2}, 1.0, DType::kF64), retain);
      check_close(x.grad(), {5.0, 5.0}, 0);
      CHECK(saved_impl.expired() == (retain == RetainGraph::kNo));
    }
  }
  SECTION("attention's probabilities, observed through the allocator") {
    for (RetainGraph retain : {RetainGraph::kNo, RetainGraph::kYes}) {
      Rng rng{11, 0, 0};
      const int64_t L = 64, D = 4;
      const int64_t probs_bytes = L * L * 4;  // [1, L, L] f32, a power of two: its own class
      Tensor q = rng.normal({1, L, D}).set_requires_grad(true);
      Tensor k = rng.normal({1, L, D}).set_requires_grad(true);
      Tensor v = rng.normal({1, L, D}).set_requires_grad(true);
      const Tensor target = rng.normal({1, L, D});
      const Tensor loss = ops::mse_loss(ops::attention(q, k, v), target);
      const int64_t before = bytes_in_use();
      backward(loss, Tensor(), retain);
      for (Tensor* t : {&q, &k, &v}) {
        CHECK(t->grad().defined());
        t->zero_grad();
      }
      const int64_t freed = before - bytes_in_use();
      INFO("bytes freed by backward: " << freed);
      if (retain == RetainGraph::kNo)
        CHECK(freed >= probs_bytes);
      else
        CHECK(freed < probs_bytes);
    }
  }
}

TEST_CASE("backward frees intermediate activations, not only the closures", "[autograd]") {
  // After backward with RetainGraph::kNo nothing can use an intermediate again, so its memory
  // must go back to the allocator even while the loss tensor is still alive (a training step
  // keeps `loss` around for logging while the optimizer runs).
  Tensor x = Tensor::full({4096}, 0.5).set_requires_grad(true);
  const Tensor target = Tensor::zeros({4096});
  Tensor loss;
  {
    const Tensor h1 = ops::scale(x, 2.0);  // 16 KiB, saved by silu
    const Tensor h2 = ops::silu(h1);       // 16 KiB, saved by mse_loss
    loss = ops::mse_loss(h2, target);
  }
  const int64_t before = bytes_in_use();
  backward(loss);
  x.zero_grad();
  const int64_t freed = before - bytes_in_use();
  INFO("bytes freed by backward: " << freed << " of the 32768 held by h1 and h2");
  CHECK(freed >= 2 * 16384);
}

TEST_CASE("a graph holds no reference cycles: dropping it frees everything", "[autograd]") {
  const int64_t baseline = bytes_in_use();
  {
    Rng rng{3, 0, 0};
    Tensor x = rng.normal({2, 3, 8, 8}).set_requires_grad(true);
    Tensor w = rng.normal({4, 3, 3, 3}).set_requires_grad(true);
    Tensor gamma = Tensor::full({4}, 1.0).set_requires_grad(true);
    Tensor beta = Tensor::zeros({4}).set_requires_grad(true);
    Tensor h = ops::conv2d(x, w, Tensor(), 1, 1);
    h = ops::silu(ops::group_norm(h, gamma, beta, 2));
    h = ops::reshape(h, {2, 4, 64});
    h = ops::softmax(ops::tanh(h));
    const Tensor loss = ops::mse_loss(h, Tensor::zeros({2, 4, 64}));
    backward(loss, Tensor(), RetainGraph::kYes);  // keep every closure, the worst case
  }
  CHECK(bytes_in_use() == baseline);
}

TEST_CASE("backward twice needs RetainGraph::kYes; with it, gradients accumulate", "[autograd]") {
  Rng rng{5, 1, 0};
  Tensor x = rng.normal({1, 2, 5, 5}, 0, 1, DType::kF64).set_requires_grad(true);
  const Tensor w = rng.normal({3, 2, 3, 3}, 0, 1, DType::kF64);
  const Tensor dy = rng.normal({1, 3, 3, 3}, 0, 1, DType::kF64);

  SECTION("without retaining, the second backward names the op") {
    const Tensor y = ops::conv2d(x, w, Tensor());
    backward(y, dy);
    const std::vector<double> once = x.grad().to_vector<double>();
    std::string message = "(no ldm::Error)";
    try {
      backward(y, dy);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK_THAT(message, Contains("conv2d") && Contains("RetainGraph::kYes"));
    CHECK_THAT(message, Contains("[1, 2, 5, 5]"));
    CHECK(x.grad().to_vector<double>() == once);  // the failed call added nothing
  }
  SECTION("retaining keeps it usable, and the gradients add up") {
    const Tensor y = ops::conv2d(x, w, Tensor());
    backward(y, dy, RetainGraph::kYes);
    const std::vector<double> once = x.grad().to_vector<double>();
    backward(y, dy, RetainGraph::kYes);
    std::vector<double> doubled;
    for (double v : once) doubled.push_back(2 * v);
    check_close(x.grad(), doubled, 1e-12);
    backward(y, dy);                          // a last backward without retaining still works...
    CHECK_THROWS_AS(backward(y, dy), Error);  // ...and then the graph is gone
  }
}

TEST_CASE("reshape passes gradients through in the input's shape", "[autograd]") {
  Tensor x = leaf({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  const Tensor flat = ops::reshape(x, {-1});
  CHECK(flat.shape() == Shape{6});
  CHECK(flat.requires_grad());
  CHECK(!flat.is_leaf());
  CHECK(flat.raw_data() == x.raw_data());
  const Tensor target = Tensor::from_vector<double>({0, 0, 0, 1, 1, 1}, {6});
  // Through two views: [2, 3] -> [6] -> [3, 2] and a loss on the last.
  backward(ops::mse_loss(x.reshape({3, -1}), target.reshape({3, 2})));
  REQUIRE(x.grad().defined());
  CHECK(x.grad().shape() == Shape{2, 3});
  // d/dx mean((x - t)^2) = 2 (x - t) / 6.
  check_close(x.grad(), {2.0 / 6, 4.0 / 6, 6.0 / 6, 6.0 / 6, 8.0 / 6, 10.0 / 6}, 1e-15);
  (void)flat;
}

}  // namespace
}  // namespace ldm::test
