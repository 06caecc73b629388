// Misuse of the public API: every op wrapper must turn bad input into an ldm::Error whose
// message names the op and the shapes involved, never into a crash or a silent wrong answer.
// Broken invariants (LDM_CHECK) abort, so those are checked in a forked child process.
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <string>

#include "core/ops.h"

namespace ldm::test {
namespace {

using Catch::Matchers::Contains;

// The message of the ldm::Error that `f` throws, or a marker that makes the checks fail.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(not an ldm::Error: ") + e.what() + ")";
  }
  return "(no ldm::Error thrown)";
}

// The message names the op and every listed shape, e.g. "[2, 3, 5, 5]".
void check_message(const std::string& message, const std::string& op,
                   std::initializer_list<const char*> fragments) {
  INFO("message: " << message);
  CHECK_THAT(message, Contains(op));
  for (const char* fragment : fragments) CHECK_THAT(message, Contains(fragment));
}

struct ChildResult {
  bool exited = false;  // returned normally (exit status in code) vs killed by a signal
  int code = 0;
  int signal = 0;
  std::string stderr_text;
};

// Runs `f` in a forked child with default signal handling (not Catch2's) and a watchdog,
// capturing its stderr; the child exits 0 when f returns or throws an ldm::Error.
ChildResult run_in_child(const std::function<void()>& f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int sig : {SIGABRT, SIGFPE, SIGSEGV, SIGILL, SIGBUS}) std::signal(sig, SIG_DFL);
    ::dup2(fds[1], STDERR_FILENO);
    if (std::freopen("/dev/null", "w", stdout) == nullptr) ::_exit(3);
    ::close(fds[0]);
    ::close(fds[1]);
    ::alarm(30);             // a hang shows up as SIGALRM instead of a stuck test run
    omp_set_num_threads(1);  // the parent's OpenMP pool does not survive fork
    try {
      f();
    } catch (const Error&) {
    }
    std::fflush(nullptr);
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildResult result;
  char buffer[1024];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    result.stderr_text.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  result.exited = WIFEXITED(status);
  result.code = result.exited ? WEXITSTATUS(status) : 0;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

Tensor f32(const Shape& shape) {
  return Tensor::zeros(shape);
}
Tensor f64(const Shape& shape) {
  return Tensor::zeros(shape, DType::kF64);
}

TEST_CASE("conv2d rejects channel mismatch, wrong rank and mixed dtypes", "[misuse]") {
  check_message(error_of([] {
                  ops::conv2d(f32({2, 4, 8, 8}), f32({3, 3, 3, 3}), Tensor());
                }),
                "conv2d", {"[2, 4, 8, 8]", "[3, 3, 3, 3]"});
  check_message(error_of([] {
                  ops::conv2d(f32({2, 3, 8}), f32({4, 3, 3, 3}), Tensor());
                }),
                "conv2d", {"[2, 3, 8]", "rank"});
  check_message(error_of([] {
                  ops::conv2d(f32({2, 3, 8, 8}), f32({4, 3, 3}), Tensor());
                }),
                "conv2d", {"[4, 3, 3]"});
  check_message(error_of([] {
                  ops::conv2d(f32({2, 3, 5, 5}), f64({4, 3, 3, 3}), Tensor());
                }),
                "conv2d", {"[2, 3, 5, 5]", "f64 [4, 3, 3, 3]", "f32"});
  check_message(error_of([] {
                  ops::conv2d(f32({2, 3, 5, 5}), f32({4, 3, 3, 3}), f32({3}));
                }),
                "conv2d", {"bias", "[3]"});
  check_message(error_of([] {
                  ops::conv2d(f32({1, 3, 2, 2}), f32({4, 3, 5, 5}), Tensor());
                }),
                "conv2d", {"[1, 3, 2, 2]", "[4, 3, 5, 5]"});  // kernel larger than the input
  check_message(error_of([] {
                  ops::conv2d(f32({1, 3, 8, 8}), f32({4, 3, 3, 3}), Tensor(), 0);
                }),
                "conv2d", {"stride"});
  check_message(error_of([] {
                  const Tensor ids = Tensor::zeros({1, 3, 4, 4}, DType::kI32);
                  ops::conv2d(ids, f32({4, 3, 3, 3}), Tensor());
                }),
                "conv2d", {"i32 [1, 3, 4, 4]"});
  check_message(error_of([] {
                  ops::conv_transpose2d(f32({2, 4, 8, 8}), f32({3, 5, 4, 4}), Tensor());
                }),
                "conv_transpose2d", {"[2, 4, 8, 8]", "[3, 5, 4, 4]"});
}

TEST_CASE("group_norm rejects channels that do not split into the groups", "[misuse]") {
  check_message(error_of([] {
                  ops::group_norm(f32({2, 6, 4, 4}), f32({6}), f32({6}), 4);
                }),
                "group_norm", {"[2, 6, 4, 4]", "6", "4 groups"});
  check_message(error_of([] {
                  ops::group_norm(f32({2, 6, 4, 4}), f32({4}), f32({6}), 2);
                }),
                "group_norm", {"[2, 6, 4, 4]", "[4]"});
  check_message(error_of([] {
                  ops::group_norm(f32({2, 6, 4, 4}), f32({6}), f32({6}), 0);
                }),
                "group_norm", {"[2, 6, 4, 4]"});
}

TEST_CASE("matmul, linear and attention reject mismatched dims", "[misuse]") {
  check_message(error_of([] {
                  ops::matmul(f32({2, 3}), f32({4, 5}));
                }),
                "matmul", {"[2, 3]", "[4, 5]"});
  check_message(error_of([] {
                  ops::matmul(f32({2, 2, 3}), f32({3, 3, 5}));
                }),
                "matmul", {"[2, 2, 3]", "[3, 3, 5]"});
  check_message(error_of([] {
                  ops::matmul(f32({2, 3}), f32({1, 3, 5}));
                }),
                "matmul", {"[2, 3]", "[1, 3, 5]"});
  check_message(error_of([] {
                  ops::linear(f32({8, 5}), f32({4, 6}), Tensor());
                }),
                "linear", {"[8, 5]", "[4, 6]"});
  check_message(error_of([] {
                  ops::linear(f32({8, 6}), f32({4, 6}), f32({6}));
                }),
                "linear", {"[8, 6]", "[6]"});
  check_message(error_of([] {
                  ops::attention(f32({2, 16, 8}), f32({2, 16, 8}), f32({2, 8, 8}));
                }),
                "attention", {"[2, 16, 8]", "[2, 8, 8]"});
  check_message(error_of([] {
                  ops::mse_loss(f32({2, 3}), f32({3, 2}));
                }),
                "mse_loss", {"[2, 3]", "[3, 2]"});
}

TEST_CASE("add and mul reject shapes that do not broadcast", "[misuse]") {
  check_message(error_of([] { ops::add(f32({2, 3}), f32({4})); }), "add", {"[2, 3]", "[4]"});
  check_message(error_of([] {
                  ops::mul(f32({2, 3, 5, 5}), f32({2, 4, 1, 1}));
                }),
                "mul", {"[2, 3, 5, 5]", "[2, 4, 1, 1]"});
  check_message(error_of([] { ops::add(f32({2, 3}), f64({2, 3})); }), "add", {"f64 [2, 3]"});
  check_message(error_of([] {
                  ops::add(f32({1, 1, 1, 1, 1, 1, 2}), f32({2}));
                }),
                "add", {"[1, 1, 1, 1, 1, 1, 2]"});  // above the kernels' maximum rank
}

TEST_CASE("concat and slice reject bad dims and ranges", "[misuse]") {
  {
    const Tensor parts[] = {f32({2, 3}), f32({3, 3})};
    check_message(error_of([&] { ops::concat(parts, 1); }), "concat", {"[2, 3]", "[3, 3]"});
  }
  {
    const Tensor parts[] = {f32({2, 3}), f32({2, 3, 1})};
    check_message(error_of([&] { ops::concat(parts, 0); }), "concat", {"[2, 3, 1]"});
  }
  {
    const Tensor parts[] = {f32({2, 3}), f32({2, 3})};
    check_message(error_of([&] { ops::concat(parts, 2); }), "concat", {"[2, 3]"});
  }
  {
    const Tensor parts[] = {f32({2, 3}), f64({2, 3})};
    check_message(error_of([&] { ops::concat(parts, 0); }), "concat", {"f64 [2, 3]"});
  }
  check_message(error_of([] { ops::concat(std::span<const Tensor>(), 0); }), "concat", {});
  check_message(error_of([] { ops::slice(f32({2, 5}), 1, 2, 7); }), "slice", {"[2, 5]", "[2, 7)"});
  check_message(error_of([] { ops::slice(f32({2, 5}), 1, 3, 3); }), "slice", {"[2, 5]"});
  check_message(error_of([] { ops::slice(f32({2, 5}), 1, -1, 2); }), "slice", {"[2, 5]"});
  check_message(error_of([] { ops::slice(f32({2, 5}), 2, 0, 1); }), "slice", {"[2, 5]"});
}

TEST_CASE("permute rejects orders that are not a permutation of the dims", "[misuse]") {
  const Tensor x = f32({2, 3, 4});
  // Wrong length, both ways.
  check_message(error_of([&] {
                  ops::permute(x, {0, 1});
                }),
                "permute", {"[2, 3, 4]", "order [0, 1]", "rank 3"});
  check_message(error_of([&] {
                  ops::permute(x, {0, 1, 2, 3});
                }),
                "permute", {"[2, 3, 4]", "order [0, 1, 2, 3]"});
  // A repeated dim, out of range, negative (torch's -1 is not accepted).
  check_message(error_of([&] {
                  ops::permute(x, {0, 2, 0});
                }),
                "permute", {"[2, 3, 4]", "order [0, 2, 0]", "twice"});
  check_message(error_of([&] {
                  ops::permute(x, {0, 3, 1});
                }),
                "permute", {"[2, 3, 4]", "order [0, 3, 1]", "out of range"});
  check_message(error_of([&] {
                  ops::permute(x, {-1, 0, 1});
                }),
                "permute", {"[2, 3, 4]", "order [-1, 0, 1]", "out of range"});
  // Beyond the kernel's rank 6, a scalar, and integer input.
  check_message(error_of([] {
                  ops::permute(f32({1, 1, 1, 1, 1, 1, 2}), {0, 1, 2, 3, 4, 5, 6});
                }),
                "permute", {"[1, 1, 1, 1, 1, 1, 2]", "rank"});
  check_message(error_of([] { ops::permute(f32({}), {}); }), "permute", {"rank"});
  check_message(error_of([] {
                  ops::permute(Tensor::zeros({2, 3}, DType::kI32), {1, 0});
                }),
                "permute", {"i32 [2, 3]"});
}

TEST_CASE("embedding rejects out-of-range and non-i32 indices", "[misuse]") {
  const Tensor table = f32({4, 3});
  check_message(error_of([&] {
                  ops::embedding(table, Tensor::from_vector<int32_t>({0, 5}, {2}));
                }),
                "embedding", {"[4, 3]", "index 5", "i32 [2]"});
  check_message(error_of([&] {
                  ops::embedding(table, Tensor::from_vector<int32_t>({1, -1, 2}, {3}));
                }),
                "embedding", {"[4, 3]", "-1"});
  check_message(error_of([&] {
                  ops::embedding(table, Tensor::from_vector<float>({0, 1}, {2}));
                }),
                "embedding", {"i32", "f32 [2]"});
  check_message(
      error_of([&] { ops::embedding(f32({12}), Tensor::from_vector<int32_t>({0}, {1})); }),
      "embedding", {"[12]"});
}

TEST_CASE("vector_quantize rejects a codebook of the wrong dim", "[misuse]") {
  check_message(error_of([] {
                  ops::vector_quantize(f32({1, 3, 2, 2}), f32({8, 4}));
                }),
                "vector_quantize", {"[1, 3, 2, 2]", "[8, 4]"});
  check_message(error_of([] {
                  ops::vector_quantize(f32({1, 3, 4}), f32({8, 3}));
                }),
                "vector_quantize", {"[1, 3, 4]"});
}

TEST_CASE("adamw_step and ema_update reject mismatched shapes", "[misuse]") {
  const kernels::AdamWArgs hyper;
  check_message(error_of([&] {
                  ops::adamw_step(f32({4, 3}), f32({4, 3}), f32({3, 4}), f32({4, 3}), hyper);
                }),
                "adamw_step", {"[4, 3]", "[3, 4]"});
  check_message(error_of([&] {
                  ops::adamw_step(f32({4, 3}), Tensor(), f32({4, 3}), f32({4, 3}), hyper);
                }),
                "adamw_step", {"[4, 3]"});
  kernels::AdamWArgs step0;
  step0.step = 0;
  check_message(error_of([&] { ops::adamw_step(f32({4}), f32({4}), f32({4}), f32({4}), step0); }),
                "adamw_step", {"[4]"});
  check_message(error_of([] {
                  ops::ema_update(f32({4, 3}), f32({12}), 0.99);
                }),
                "ema_update", {"[4, 3]", "[12]"});
}

TEST_CASE("other op wrappers reject bad input", "[misuse]") {
  check_message(error_of([] {
                  ops::upsample_nearest(f32({2, 3, 4}));
                }),
                "upsample_nearest", {"[2, 3, 4]"});
  check_message(error_of([] {
                  ops::timestep_embedding(f32({2, 1}), 8);
                }),
                "timestep_embedding", {"[2, 1]"});
  check_message(error_of([] { ops::cfg_combine(f32({3, 4}), 2.0); }), "cfg_combine", {"[3, 4]"});
  check_message(error_of([] {
                  kernels::DdpmStepArgs a;
                  a.sigma = 0.1;
                  ops::ddpm_step(f32({2, 3}), f32({2, 3}), Tensor(), a);  // noise is needed
                }),
                "ddpm_step", {"[2, 3]"});
  check_message(error_of([] {
                  ops::ddim_step(f32({2, 3}), f32({3, 2}), Tensor(), kernels::DdimStepArgs{});
                }),
                "ddim_step", {"[2, 3]", "[3, 2]"});
  check_message(error_of([] { ops::hardtanh(f32({2}), 1.0, -1.0); }), "hardtanh", {});
  check_message(error_of([] { ops::softmax(f32({2, 0})); }), "softmax", {"[2, 0]"});
}

TEST_CASE("backward rejects what it cannot differentiate", "[misuse]") {
  Tensor x = f32({2, 3});
  x.set_requires_grad(true);
  const Tensor y = ops::silu(x);
  // A multi-element root needs an explicit gradient.
  check_message(error_of([&] { backward(y); }), "backward", {"[2, 3]"});
  check_message(error_of([&] { backward(y, f32({3, 2})); }), "backward", {"[2, 3]", "[3, 2]"});
  check_message(error_of([&] { backward(y, f64({2, 3})); }), "backward", {"f64 [2, 3]"});
  check_message(error_of([] { backward(Tensor::full({}, 1.0)); }), "backward", {"f32 []"});
  CHECK(!x.grad().defined());  // none of the failed calls left a gradient behind
  Tensor output = y;
  check_message(error_of([&] { output.set_requires_grad(false); }), "set_requires_grad", {});
}

TEST_CASE("data<T>() of the wrong dtype aborts with file:line (LDM_CHECK)", "[misuse]") {
  const ChildResult r = run_in_child([] {
    const Tensor t = Tensor::zeros({2, 3});
    std::fprintf(stderr, "%p\n", static_cast<void*>(t.data<double>()));
  });
  INFO("child stderr: " << r.stderr_text);
  CHECK(!r.exited);
  CHECK(r.signal == SIGABRT);
  CHECK_THAT(r.stderr_text, Contains("tensor.h:") && Contains("data<f64>() on a f32 tensor"));

  const ChildResult i = run_in_child([] {
    const Tensor t = Tensor::zeros({2}, DType::kI32);
    std::fprintf(stderr, "%p\n", static_cast<void*>(t.data<float>()));
  });
  INFO("child stderr: " << i.stderr_text);
  CHECK(i.signal == SIGABRT);
  CHECK_THAT(i.stderr_text, Contains("data<f32>() on a i32 tensor"));

  // The right dtype does not abort (the check above is not vacuous).
  const ChildResult ok = run_in_child([] { (void)Tensor::zeros({2}).data<float>(); });
  CHECK(ok.exited);
  CHECK(ok.code == 0);
}

TEST_CASE("a zero-sized dimension never crashes an op", "[misuse]") {
  // Each of these divides by a product of dims in its wrapper; an empty batch or sequence is
  // legal in PyTorch and must give an empty result or an ldm::Error, not SIGFPE.
  const auto survives = [](const char* what, const std::function<void()>& f) {
    const ChildResult r = run_in_child(f);
    INFO(what << ": child " << (r.exited ? "exited " : "killed by signal ")
              << (r.exited ? r.code : r.signal) << "; stderr: " << r.stderr_text);
    CHECK(r.exited);
    CHECK(r.code == 0);
  };
  survives("group_norm with N = 0", [] {
    ops::group_norm(f32({0, 4, 2, 2}), f32({4}), f32({4}), 2);
  });
  survives("attention with L = 0", [] {
    ops::attention(f32({1, 0, 4}), f32({1, 0, 4}), f32({1, 0, 4}));
  });
  survives("linear with K = 0", [] { ops::linear(f32({2, 0}), f32({3, 0}), Tensor()); });
  survives("conv2d with N = 0", [] {
    ops::conv2d(f32({0, 3, 5, 5}), f32({4, 3, 3, 3}), Tensor());
  });
  survives("conv2d (Winograd: 3x3, 16 channels) with N = 0", [] {
    ops::conv2d(f32({0, 16, 5, 5}), f32({16, 16, 3, 3}), Tensor(), 1, 1);
  });
  survives("matmul with K = 0", [] { ops::matmul(f32({2, 0}), f32({0, 3})); });
}

}  // namespace
}  // namespace ldm::test
