// ldm-op-bench: forward and backward of every op of LDM_OPS at the default model's shapes,
// through the public op API, plus this machine's sgemm peak as the yardstick for the convs.
//
// Timing: each iteration runs the forward (with grad on, so it includes tape recording) and
// then ldm::backward from its output, with a steady_clock read around each pass. The benchmark
// uses manual time = forward + backward; fwd_us and bwd_us are the two parts. Zeroing the leaf
// gradients and tearing the graph down happen between the clock reads, so they are not timed.
// (PauseTiming/ResumeTiming would cost more than many of these ops take.) best_us is the
// fastest single iteration, the better estimate when other jobs share the cores.
#include "bench/op_bench.h"

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace ldm::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Best sgemm GFLOP/s seen in this process. The sgemm_peak benchmarks run first and fill it in;
// when a filter skipped them, the first conv that needs it measures a quick stand-in.
double g_sgemm_peak_gflops = 0;

std::vector<float> filled(int64_t n, float step) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = step * static_cast<float>(i % 29 - 14);
  return v;
}

void square_sgemm(int n, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
}

double sgemm_peak_gflops() {
  if (g_sgemm_peak_gflops > 0) return g_sgemm_peak_gflops;
  constexpr int n = 1024;
  const std::vector<float> a = filled(int64_t{n} * n, 0.01f), b = filled(int64_t{n} * n, 0.02f);
  std::vector<float> c(static_cast<size_t>(n) * n);
  square_sgemm(n, a.data(), b.data(), c.data());
  for (int i = 0; i < 10; ++i) {
    const auto t0 = Clock::now();
    square_sgemm(n, a.data(), b.data(), c.data());
    const double seconds = seconds_between(t0, Clock::now());
    const double gflops = 2e-9 * n * n * static_cast<double>(n) / seconds;
    g_sgemm_peak_gflops = std::max(g_sgemm_peak_gflops, gflops);
  }
  std::fprintf(stderr, "note: sgemm_peak was filtered out; measured %.1f GFLOP/s on 1024^3\n",
               g_sgemm_peak_gflops);
  return g_sgemm_peak_gflops;
}

void bm_sgemm_peak(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<float> a = filled(int64_t{n} * n, 0.01f), b = filled(int64_t{n} * n, 0.02f);
  std::vector<float> c(static_cast<size_t>(n) * n);
  square_sgemm(n, a.data(), b.data(), c.data());  // warm-up: threads started, pages touched
  const double flops = 2.0 * n * n * static_cast<double>(n);
  double best = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    square_sgemm(n, a.data(), b.data(), c.data());
    const double dt = seconds_between(t0, Clock::now());
    benchmark::DoNotOptimize(c.data());
    state.SetIterationTime(dt);
    best = std::max(best, flops / dt * 1e-9);
  }
  // The peak is the best single call: on a shared machine that is the closest to what the
  // cores can do, and it makes frac_of_sgemm_peak conservative.
  g_sgemm_peak_gflops = std::max(g_sgemm_peak_gflops, best);
  state.counters["best_GFLOP/s"] = best;
  state.counters["peak_so_far_GFLOP/s"] = g_sgemm_peak_gflops;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The three gemms of an im2col conv2d fwd+bwd at a shape (forward, wgrad, dgrad; the M, N, K
// of kernels/cpu/conv.cpp, whose transposes vary with the im2col layout it picks), on raw
// buffers: the ceiling of that approach before any im2col / col2im / layout copies.
void bm_sgemm_conv_equivalent(benchmark::State& state, Shape x, int64_t c_out, int64_t k) {
  const int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  const int64_t R = C * k * k, P = N * H * W;  // stride 1, "same" padding
  const std::vector<float> w = filled(c_out * R, 0.01f), col = filled(R * P, 0.02f),
                           dy = filled(c_out * P, 0.03f);
  std::vector<float> y(static_cast<size_t>(c_out * P)), dw(static_cast<size_t>(c_out * R)),
      dcol(static_cast<size_t>(R * P));
  const int co = static_cast<int>(c_out), r = static_cast<int>(R), p = static_cast<int>(P);
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co, p, r, 1.0f, w.data(), r, col.data(),
                p, 0.0f, y.data(), p);  // forward
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, co, r, p, 1.0f, dy.data(), p, col.data(),
                p, 0.0f, dw.data(), r);  // wgrad
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, p, co, 1.0f, w.data(), r, dy.data(), p,
                0.0f, dcol.data(), p);  // dgrad
  };
  run();
  double total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    run();
    const double dt = seconds_between(t0, Clock::now());
    benchmark::DoNotOptimize(dcol.data());
    state.SetIterationTime(dt);
    total += dt;
  }
  const double flops = 3 * 2.0 * static_cast<double>(c_out * R * P);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (total > 0) {
    state.counters["frac_of_sgemm_peak"] =
        flops * static_cast<double>(state.iterations()) / total * 1e-9 / sgemm_peak_gflops();
  }
}

// The memory roofline: a STREAM triad a = b + s * c over OpenMP threads, 12 bytes an element.
// 1M elements (12 MB) stays in the 32 MB L3, which is where most activations here live (a
// 64x128x8x8 tensor is 2 MB); 16M elements (192 MB) goes to DRAM like the 10M-element AdamW.
void bm_triad(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(static_cast<size_t>(n)), b = filled(n, 0.01f), c = filled(n, 0.02f);
  float* pa = a.data();
  const float *pb = b.data(), *pc = c.data();
  auto run = [&] {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + 0.5f * pc[i];
  };
  run();
  for (auto _ : state) {
    const auto t0 = Clock::now();
    run();
    const double dt = seconds_between(t0, Clock::now());
    benchmark::DoNotOptimize(pa);
    state.SetIterationTime(dt);
  }
  state.counters["GB/s"] = benchmark::Counter(12.0 * static_cast<double>(n) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void bm_op(benchmark::State& state, const OpBenchCase& c) {
  const bool has_backward = op_has_backward(c.op);
  double fwd_total = 0, bwd_total = 0;
  // The fastest iteration: other jobs on a shared machine only ever add time, so on a busy
  // machine this is the better estimate of what the op costs when it has the cores.
  double best = std::numeric_limits<double>::infinity();
  try {
    Rng rng{20240601, 0, 0};
    const std::vector<Tensor> inputs = c.make_inputs(rng);
    // The output gradient (a one-element output defaults to 1), made on the case's first run
    // after one untimed warm-up pass that also fills the allocator's cache and the kernels'
    // scratch buffers; later repetitions find both ready.
    static std::map<std::string, Tensor> output_grads;
    const std::string key = std::string(op_name(c.op)) + "/" + c.label;
    if (!output_grads.contains(key)) {
      Tensor y = c.forward(inputs);
      Tensor dy;
      if (has_backward) {
        if (!y.requires_grad()) {
          state.SkipWithError("the output does not require grad: no backward to time");
          return;
        }
        if (y.numel() != 1) dy = rng.normal(y.shape());
        backward(y, dy);
      }
      output_grads[key] = dy;
    }
    const Tensor dy = output_grads[key];
    for (auto _ : state) {
      for (Tensor t : inputs) t.zero_grad();  // else backward would time a += into old grads
      const auto t0 = Clock::now();
      Tensor y = c.forward(inputs);
      const auto t1 = Clock::now();
      if (has_backward) backward(y, dy);
      const auto t2 = Clock::now();
      benchmark::DoNotOptimize(y);
      fwd_total += seconds_between(t0, t1);
      bwd_total += seconds_between(t1, t2);
      state.SetIterationTime(seconds_between(t0, t2));
      best = std::min(best, seconds_between(t0, t2));
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
    return;
  }

  const double iters = static_cast<double>(state.iterations());
  if (iters == 0) return;
  const Cost& k = c.cost;
  auto per_second = [&](double work, double seconds) {
    return seconds > 0 ? work * iters / seconds * 1e-9 : 0.0;
  };
  state.counters["fwd_us"] = fwd_total / iters * 1e6;
  if (has_backward) state.counters["bwd_us"] = bwd_total / iters * 1e6;
  state.counters["best_us"] = best * 1e6;
  const double flops = k.fwd_flops + k.bwd_flops, bytes = k.fwd_bytes + k.bwd_bytes;
  if (k.fwd_flops > 0) state.counters["fwd_GFLOP/s"] = per_second(k.fwd_flops, fwd_total);
  if (k.bwd_flops > 0) state.counters["bwd_GFLOP/s"] = per_second(k.bwd_flops, bwd_total);
  if (k.fwd_bytes > 0) state.counters["fwd_GB/s"] = per_second(k.fwd_bytes, fwd_total);
  if (k.bwd_bytes > 0) state.counters["bwd_GB/s"] = per_second(k.bwd_bytes, bwd_total);
  // Whole-step rates only where one roofline applies to both passes.
  if (flops > 0 && bytes == 0) {
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["frac_of_sgemm_peak"] =
        per_second(flops, fwd_total + bwd_total) / sgemm_peak_gflops();
    state.counters["best_frac_of_sgemm_peak"] = flops / best * 1e-9 / sgemm_peak_gflops();
  }
  if (bytes > 0 && flops == 0) {
    state.counters["GB/s"] =
        benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  }
}

bool has_flag(const std::vector<char*>& args, const char* name) {
  const size_t n = std::strlen(name);
  return std::any_of(args.begin(), args.end(), [&](const char* a) {
    return std::strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
  });
}

void add_context() {
  // Reported, never set: the environment owns them, and they pick OpenBLAS's kernels.
  for (const char* name : {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}) {
    const char* value = std::getenv(name);
    benchmark::AddCustomContext(name, value ? value : "(unset)");
  }
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext(
      "timing",
      "manual: Time = forward (with tape recording) + ldm::backward; fwd_us, bwd_us "
      "split it");
}

int run(int argc, char** argv) {
  // Medians of 5 runs unless the user asks otherwise; min_time keeps the whole default run
  // near 75 s on 2 idle cores and under 3 minutes on a busy machine (benchmark 1.7.1 takes it
  // as seconds, a double).
  std::vector<char*> args(argv, argv + argc);
  static char repetitions[] = "--benchmark_repetitions=5";
  static char aggregates[] = "--benchmark_report_aggregates_only=true";
  static char min_time[] = "--benchmark_min_time=0.1";
  if (!has_flag(args, "--benchmark_repetitions")) args.push_back(repetitions);
  if (!has_flag(args, "--benchmark_report_aggregates_only") &&
      !has_flag(args, "--benchmark_display_aggregates_only"))
    args.push_back(aggregates);
  if (!has_flag(args, "--benchmark_min_time")) args.push_back(min_time);
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  static const std::vector<OpBenchCase> cases = op_bench_cases();
  for (int op = 0; op < kOpCount; ++op) {
    const bool covered = std::any_of(cases.begin(), cases.end(), [&](const OpBenchCase& c) {
      return static_cast<int>(c.op) == op;
    });
    if (!covered) {
      std::fprintf(stderr, "ldm-op-bench: op %s has no benchmark case\n",
                   std::string(kOpNames[static_cast<size_t>(op)]).c_str());
      return 1;
    }
  }

  // Registration order is run order: the peak first, so that the convs can divide by it.
  benchmark::RegisterBenchmark("sgemm_peak", bm_sgemm_peak)
      ->Arg(1024)
      ->Arg(2048)
      ->UseManualTime()
      ->MinTime(0.3)
      ->Unit(benchmark::kMillisecond);
  for (const Shape& x : {Shape{64, 128, 8, 8}, Shape{64, 64, 8, 8}, Shape{64, 128, 4, 4}}) {
    benchmark::RegisterBenchmark(("sgemm_conv_equivalent/" + dims(x) + "/k3").c_str(),
                                 bm_sgemm_conv_equivalent, x, x[1], int64_t{3})
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("stream_triad", bm_triad)
      ->Arg(int64_t{1} << 20)
      ->Arg(int64_t{16} << 20)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  for (const OpBenchCase& c : cases) {
    const std::string name = std::string(op_name(c.op)) + "/" + c.label;
    benchmark::RegisterBenchmark(name.c_str(), bm_op, c)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  add_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_sgemm_peak_gflops > 0)
    std::fprintf(stderr, "sgemm peak used for frac_of_sgemm_peak: %.1f GFLOP/s\n",
                 g_sgemm_peak_gflops);
  return 0;
}

}  // namespace
}  // namespace ldm::bench

int main(int argc, char** argv) {
  try {
    return ldm::bench::run(argc, argv);
  } catch (const ldm::Error& e) {
    std::fprintf(stderr, "ldm-op-bench: %s\n", e.what());
    return 1;
  }
}
