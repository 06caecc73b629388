// The op test harness, in the spirit of ggml's test-backend-ops. Each op registers cases; for
// every case the harness (1) checks the backward against central finite differences in double
// precision, and (2) checks that the float path agrees with the double path. Update ops (no
// backward) register a reference check instead. A coverage test walks LDM_OPS and fails for
// any op without a case, so adding an op without tests breaks the suite.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/ops.h"

namespace ldm::test {

enum class Init {
  kNormal,    // standard normal
  kUniform,   // uniform in [low, high)
  kIndices,   // i32 uniform in [0, bound); never differentiated
};

struct InputSpec {
  std::string name;
  Shape shape;
  Init init = Init::kNormal;
  double low = -1.0, high = 1.0;
  int32_t bound = 1;
  bool differentiable = true;  // false: held fixed (e.g. noise, a mask, indices)
};

inline InputSpec normal(std::string name, Shape shape) {
  return {std::move(name), std::move(shape), Init::kNormal, 0, 0, 1, true};
}
inline InputSpec uniform(std::string name, Shape shape, double low, double high) {
  return {std::move(name), std::move(shape), Init::kUniform, low, high, 1, true};
}
inline InputSpec indices(std::string name, Shape shape, int32_t bound) {
  return {std::move(name), std::move(shape), Init::kIndices, 0, 0, bound, false};
}
inline InputSpec fixed(InputSpec spec) {
  spec.differentiable = false;
  return spec;
}

using OpRunner = std::function<std::vector<Tensor>(std::span<const Tensor> inputs)>;

struct OpCase {
  OpKind op;
  std::string name;
  std::vector<InputSpec> inputs;
  OpRunner run;  // returns the differentiable outputs to check
  // Relative tolerance of the float-vs-double comparison. Default: float epsilon times a
  // small factor; a case with long reductions (conv, matmul) raises it with a comment.
  double float_rtol = 1e-4;
  // Where the gradient is deliberately not the derivative of the forward value (a
  // straight-through estimator, a stop-gradient), finite differences are taken of this
  // function instead: it must have the intended gradient and the same output shapes.
  OpRunner fd_reference = {};
};

// An update op (no backward) is checked against a plain double-precision reference instead.
struct ReferenceCase {
  OpKind op;
  std::string name;
  std::function<void()> check;  // uses Catch2 REQUIRE/CHECK inside; tensors on default_device()
  DType dtype = DType::kF64;    // what check() runs in: f32 cases also run on the CUDA backend
};

std::vector<OpCase>& op_cases();
std::vector<ReferenceCase>& reference_cases();

struct Registrar {
  explicit Registrar(std::vector<OpCase> cases);
  explicit Registrar(std::vector<ReferenceCase> cases);
};

// Fresh inputs for a case, seeded by the case's name so that reruns are identical.
std::vector<Tensor> make_inputs(const OpCase& c, DType dtype);

struct GradcheckResult {
  double max_abs_error = 0;
  double max_rel_error = 0;
  int64_t elements_checked = 0;
  std::string worst;  // where the largest violation was, for the failure message
  bool ok = true;
};

// Finite-difference check of every differentiable input (all elements, or a seeded sample of
// max_elements per input), in double precision.
GradcheckResult gradcheck(const OpCase& c, int64_t max_elements = 64);

// The case's outputs followed by the gradient of a fixed weighted sum of them with respect to
// each input (undefined for inputs that are not differentiable).
std::vector<Tensor> outputs_and_gradients(const OpCase& c, DType dtype);

// Float path vs double path on the same inputs: outputs and gradients.
GradcheckResult float_matches_double(const OpCase& c);

// The float path on `device` (inputs made there, as default_device()) vs the CPU's float path on
// the same inputs: outputs and gradients. Each side is within the case's float_rtol of the
// double path, so they must agree within twice that.
GradcheckResult device_matches_cpu(const OpCase& c, Device device);

}  // namespace ldm::test

#define LDM_TEST_CONCAT_INNER(a, b) a##b
#define LDM_TEST_CONCAT(a, b) LDM_TEST_CONCAT_INNER(a, b)
// LDM_OP_CASES({ OpCase{...}, ... }); at namespace scope registers cases at start-up.
#define LDM_OP_CASES(...) \
  [[maybe_unused]] static ::ldm::test::Registrar LDM_TEST_CONCAT(ldm_op_cases_, __LINE__)(__VA_ARGS__)
