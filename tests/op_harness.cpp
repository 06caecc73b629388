// Finite-difference gradient checks and float-vs-double parity for every registered op case.
#include "tests/op_harness.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "core/rng.h"

namespace ldm::test {

std::vector<OpCase>& op_cases() {
  static std::vector<OpCase> cases;
  return cases;
}

std::vector<ReferenceCase>& reference_cases() {
  static std::vector<ReferenceCase> cases;
  return cases;
}

Registrar::Registrar(std::vector<OpCase> cases) {
  for (auto& c : cases) op_cases().push_back(std::move(c));
}

Registrar::Registrar(std::vector<ReferenceCase> cases) {
  for (auto& c : cases) reference_cases().push_back(std::move(c));
}

std::vector<Tensor> make_inputs(const OpCase& c, DType dtype) {
  Rng rng{std::hash<std::string>{}(std::string(op_name(c.op)) + "/" + c.name), 0, 0};
  std::vector<Tensor> inputs;
  for (const InputSpec& spec : c.inputs) {
    Tensor t;
    switch (spec.init) {
      case Init::kNormal: t = rng.normal(spec.shape, 0.0, 1.0, DType::kF64); break;
      case Init::kUniform: t = rng.uniform(spec.shape, spec.low, spec.high, DType::kF64); break;
      case Init::kIndices: t = rng.randint(spec.shape, spec.bound); break;
    }
    // Values are drawn in double and rounded once, so both paths see the same numbers.
    if (spec.init != Init::kIndices) {
      t = t.to(DType::kF32).to(dtype);
      if (spec.differentiable) t.set_requires_grad(true);
    }
    inputs.push_back(t);
  }
  return inputs;
}

namespace {

// Weights that turn the outputs into one scalar: L = sum_o <out_o, w_o>.
std::vector<Tensor> output_weights(const OpCase& c, const std::vector<Tensor>& outputs) {
  Rng rng{std::hash<std::string>{}(c.name) ^ 0x5eed, 1, 0};
  std::vector<Tensor> weights;
  for (const Tensor& out : outputs) weights.push_back(rng.normal(out.shape(), 0, 1, out.dtype()));
  return weights;
}

double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<Tensor>& weights) {
  double total = 0;
  for (size_t o = 0; o < outputs.size(); ++o) {
    const auto out = outputs[o].to_vector<double>();
    const auto w = weights[o].to_vector<double>();
    for (size_t i = 0; i < out.size(); ++i) total += out[i] * w[i];
  }
  return total;
}

// Runs forward and backward; returns outputs, and gradients of L per input (undefined for
// inputs that are not differentiable).
std::vector<Tensor> forward_backward(const OpCase& c, const std::vector<Tensor>& inputs,
                                     std::vector<Tensor>& outputs) {
  outputs = c.run(inputs);
  const std::vector<Tensor> weights = output_weights(c, outputs);
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (!outputs[o].requires_grad()) continue;
    const bool last = o + 1 == outputs.size();
    backward(outputs[o], weights[o].to(outputs[o].dtype()),
             last ? RetainGraph::kNo : RetainGraph::kYes);
  }
  std::vector<Tensor> grads;
  for (const Tensor& in : inputs) grads.push_back(in.requires_grad() ? in.grad() : Tensor());
  return grads;
}

void record(GradcheckResult& result, double analytic, double reference, double atol, double rtol,
            const std::string& where) {
  const double err = std::abs(analytic - reference);
  const double rel = err / std::max(std::abs(reference), 1e-300);
  ++result.elements_checked;
  result.max_abs_error = std::max(result.max_abs_error, err);
  if (std::abs(reference) > atol) result.max_rel_error = std::max(result.max_rel_error, rel);
  if (err > atol + rtol * std::abs(reference) && result.ok) {
    result.ok = false;
    std::ostringstream out;
    out.precision(10);
    out << where << ": got " << analytic << ", expected " << reference;
    result.worst = out.str();
  }
}

}  // namespace

GradcheckResult gradcheck(const OpCase& c, int64_t max_elements) {
  GradcheckResult result;
  std::vector<Tensor> inputs = make_inputs(c, DType::kF64);
  std::vector<Tensor> outputs;
  const std::vector<Tensor> analytic = forward_backward(c, inputs, outputs);
  const std::vector<Tensor> weights = output_weights(c, outputs);

  // Central differences have O(h^2) truncation error and O(eps/h) rounding error; h = 1e-6
  // balances them for O(1) inputs in double (both near 1e-10 relative).
  const double h = 1e-6;
  const double atol = 1e-7, rtol = 1e-5;
  const OpRunner& f = c.fd_reference ? c.fd_reference : c.run;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!c.inputs[i].differentiable) continue;
    double* x = inputs[i].data<double>();
    const int64_t n = inputs[i].numel();
    const auto grad = analytic[i].defined() ? analytic[i].to_vector<double>()
                                            : std::vector<double>(static_cast<size_t>(n), 0.0);
    Rng pick{std::hash<std::string>{}(c.name) + i, 2, 0};
    const int64_t count = std::min(n, max_elements);
    for (int64_t s = 0; s < count; ++s) {
      const int64_t j = n <= max_elements
                            ? s
                            : static_cast<int64_t>(uniform01(pick.seed, pick.stream, s) * n);
      const double saved = x[j];
      x[j] = saved + h;
      const double plus = weighted_sum(f(inputs), weights);
      x[j] = saved - h;
      const double minus = weighted_sum(f(inputs), weights);
      x[j] = saved;
      const double numeric = (plus - minus) / (2 * h);
      record(result, grad[static_cast<size_t>(j)], numeric, atol, rtol,
             "d/d" + c.inputs[i].name + "[" + std::to_string(j) + "]");
    }
  }
  return result;
}

std::vector<Tensor> outputs_and_gradients(const OpCase& c, DType dtype) {
  std::vector<Tensor> outputs;
  const std::vector<Tensor> grads = forward_backward(c, make_inputs(c, dtype), outputs);
  outputs.insert(outputs.end(), grads.begin(), grads.end());
  return outputs;
}

GradcheckResult float_matches_double(const OpCase& c) {
  GradcheckResult result;
  std::vector<Tensor> in64 = make_inputs(c, DType::kF64), in32 = make_inputs(c, DType::kF32);
  std::vector<Tensor> out64, out32;
  const std::vector<Tensor> g64 = forward_backward(c, in64, out64);
  const std::vector<Tensor> g32 = forward_backward(c, in32, out32);
  auto compare = [&](const Tensor& a32, const Tensor& a64, const std::string& what) {
    if (!a32.defined() || !a64.defined()) return;
    const auto x = a32.to_vector<double>(), ref = a64.to_vector<double>();
    double scale = 0;
    for (double v : ref) scale = std::max(scale, std::abs(v));
    // Absolute floor relative to the tensor's magnitude: cancellation in a sum of O(scale)
    // terms leaves errors of about eps * scale even where the result is near zero.
    const double atol = c.float_rtol * std::max(scale, 1e-30);
    for (size_t i = 0; i < x.size(); ++i)
      record(result, x[i], ref[i], atol, c.float_rtol, what + "[" + std::to_string(i) + "]");
  };
  for (size_t o = 0; o < out64.size(); ++o)
    compare(out32[o], out64[o], "output " + std::to_string(o));
  for (size_t i = 0; i < g64.size(); ++i) compare(g32[i], g64[i], "d/d" + c.inputs[i].name);
  return result;
}

GradcheckResult device_matches_cpu(const OpCase& c, Device device) {
  GradcheckResult result;
  const std::vector<Tensor> want = outputs_and_gradients(c, DType::kF32);
  std::vector<Tensor> got;
  {
    DefaultDeviceGuard on_device(device);
    got = outputs_and_gradients(c, DType::kF32);
  }
  LDM_CHECK(got.size() == want.size());
  const double rtol = 2 * c.float_rtol;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].defined() && !got[i].defined()) continue;
    const size_t n_outputs = want.size() - c.inputs.size();  // then one gradient per input
    const std::string what = i < n_outputs ? "output " + std::to_string(i)
                                           : "d/d" + c.inputs[i - n_outputs].name;
    if (want[i].defined() != got[i].defined() || want[i].shape() != got[i].shape() ||
        got[i].device() != device) {
      result.ok = false;
      result.worst = what + ": " + got[i].description() + " on " +
                     (got[i].defined() ? got[i].device().name() : "-") + " vs " +
                     want[i].description();
      return result;
    }
    const auto x = got[i].to_vector<double>(), ref = want[i].to_vector<double>();
    double scale = 0;
    for (double v : ref) scale = std::max(scale, std::abs(v));
    const double atol = rtol * std::max(scale, 1e-30);
    for (size_t j = 0; j < x.size(); ++j)
      record(result, x[j], ref[j], atol, rtol, what + "[" + std::to_string(j) + "]");
  }
  return result;
}

}  // namespace ldm::test
