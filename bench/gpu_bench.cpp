// ldm-gpu-bench: times every kernels/cuda launcher at the default model's shapes on a real GPU
// with CUDA events, against the device's nominal DRAM and FP32 peaks, and the convolutions and
// GEMMs against cuDNN and cuBLAS on the same buffers (whose results also check ours). Without a
// GPU it says so and succeeds, so CI can run it; --list needs no GPU either. docs_bench.md
// explains the columns.
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "bench/gpu/check.h"
#include "bench/gpu/device.h"
#include "bench/gpu/runner.h"

namespace ldm::bench::gpu {
namespace {

void run_all(Runner& r) {
  conv_cases(r);
  gemm_cases(r);
  norm_quantize_cases(r);
  elementwise_cases(r);
  embedding_cases(r);
  diffusion_cases(r);
  optim_cases(r);
  activation_cases(r);
}

// NaN (no reference, not verified) becomes null.
nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

void write_json(const std::string& path, const DeviceInfo& d, const Options& o,
                const std::vector<Row>& rows) {
  nlohmann::json results = nlohmann::json::array();
  for (const Row& r : rows) {
    results.push_back({{"kernel", r.name},
                       {"where", r.where},
                       {"shape", r.shape},
                       {"ms", r.ms},
                       {"bytes", r.bytes},
                       {"flops", r.flops},
                       {"gb_per_s", r.gbs()},
                       {"gflop_per_s", r.gflops()},
                       {"frac_of_bandwidth_peak", r.gbs() / d.peak_bandwidth_gbs()},
                       {"frac_of_fp32_peak", r.gflops() / d.peak_fp32_gflops()},
                       {"reference", r.ref.empty() ? nlohmann::json() : nlohmann::json(r.ref)},
                       {"reference_ms", number(r.ref_ms)},
                       {"ours_over_reference", number(r.ms / r.ref_ms)},
                       {"max_rel_err", number(r.rel_err)},
                       {"failed", r.failed}});
  }
  const nlohmann::json report{{"device",
                               {{"index", d.index},
                                {"name", d.name},
                                {"compute_capability", format("%d.%d", d.cc_major, d.cc_minor)},
                                {"sm_count", d.sm_count},
                                {"clock_khz", d.clock_khz},
                                {"memory_clock_khz", d.memory_clock_khz},
                                {"bus_width_bits", d.bus_width_bits},
                                {"l2_bytes", d.l2_bytes},
                                {"fp32_lanes_per_sm", d.fp32_lanes_per_sm},
                                {"fp32_lanes_assumed", !d.lanes_known}}},
                              {"peaks",
                               {{"bandwidth_gb_per_s", d.peak_bandwidth_gbs()},
                                {"fp32_gflop_per_s", d.peak_fp32_gflops()}}},
                              {"timing",
                               {{"warmup", o.timing.warmup},
                                {"repeats", o.timing.repeats},
                                {"statistic", "median"},
                                {"cold_l2", o.timing.cold_l2},
                                {"min_sample_ms", o.timing.min_sample_ms}}},
                              {"filter", o.filter},
                              {"deterministic_ref", o.deterministic_ref},
                              {"max_rel_err", o.max_rel_err},
                              {"results", results}};
  std::ofstream out(path);
  out << report.dump(2) << "\n";
  if (!out) {
    std::fprintf(stderr, "ldm-gpu-bench: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

int run(int argc, char** argv) {
  CLI::App app{
      "Times the CUDA kernels at the model's shapes against the GPU's peaks, cuDNN and "
      "cuBLAS.",
      "ldm-gpu-bench"};
  Options o;
  app.add_option("--filter", o.filter, "only cases whose kernel/where matches this regex")
      ->check([](const std::string& s) {
        try {
          std::regex re(s);
          return std::string();
        } catch (const std::regex_error& e) {
          return "not a valid regex (" + std::string(e.what()) + ")";
        }
      });
  app.add_option("--repeats", o.timing.repeats, "timed samples per case (the median is reported)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--warmup", o.timing.warmup, "untimed calls before the samples")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_flag("--cold-l2", o.timing.cold_l2,
               "one call per sample after overwriting twice the L2 (default: back-to-back calls, "
               "warm L2)");
  app.add_option("--json", o.json_path, "also write the results as JSON here");
  app.add_option("--device", o.device, "CUDA device index")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--deterministic-ref", o.deterministic_ref,
               "let cuDNN use only deterministic algorithms, as ours are");
  app.add_option("--max-rel-err", o.max_rel_err,
                 "fail a case whose max |ours - ref| / max |ref| exceeds this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--list", o.list, "print the selected cases' kernel/where and exit (no GPU needed)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints the usage and succeeds; a usage error is one line.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::fprintf(stderr, "ldm-gpu-bench: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  }

  if (o.list) {
    Runner lister(o);
    run_all(lister);
    if (lister.listed() == 0) {
      std::fprintf(stderr, "ldm-gpu-bench: no case matches --filter %s\n", o.filter.c_str());
      return 1;
    }
    return 0;
  }

  int count = 0;
  const cudaError_t probe = cudaGetDeviceCount(&count);
  if (probe != cudaSuccess || count == 0) {
    std::printf("ldm-gpu-bench: no CUDA GPU on this machine (%s); nothing to time\n",
                probe != cudaSuccess ? cudaGetErrorString(probe) : "the runtime sees 0 devices");
    return 0;
  }
  if (o.device >= count) {
    std::fprintf(stderr, "ldm-gpu-bench: error: --device %d, but there are %d device(s)\n",
                 o.device, count);
    return 1;
  }
  LDM_CHECK(cudaSetDevice(o.device));
  const DeviceInfo d = query_device(o.device);
  std::printf(
      "device %d: %s, sm_%d%d, %d SMs at %.0f MHz, %d FP32 lanes/SM%s, memory %.0f MHz x "
      "%d bit, L2 %d KiB\n",
      d.index, d.name.c_str(), d.cc_major, d.cc_minor, d.sm_count, d.clock_khz * 1e-3,
      d.fp32_lanes_per_sm, d.lanes_known ? "" : " (assumed: unknown compute capability)",
      d.memory_clock_khz * 1e-3, d.bus_width_bits, d.l2_bytes / 1024);
  int runtime = 0, driver = 0;
  LDM_CHECK(cudaRuntimeGetVersion(&runtime));
  LDM_CHECK(cudaDriverGetVersion(&driver));
  std::printf("peaks: %.1f GB/s DRAM, %.1f GFLOP/s FP32; CUDA runtime %d, driver %d, cuDNN %zu\n",
              d.peak_bandwidth_gbs(), d.peak_fp32_gflops(), runtime, driver, cudnnGetVersion());
  std::printf("timing: median of %d samples after %d warm-up calls, %s\n\n", o.timing.repeats,
              o.timing.warmup,
              o.timing.cold_l2 ? "cold L2 (one call per sample)" : "warm L2 (back-to-back calls)");

  Runner runner(o, d);
  runner.print_header();
  run_all(runner);
  const std::vector<Row>& rows = runner.rows();
  if (rows.empty()) {
    std::fprintf(stderr, "ldm-gpu-bench: no case matches --filter %s\n", o.filter.c_str());
    return 1;
  }
  if (!o.json_path.empty()) write_json(o.json_path, d, o, rows);
  int failed = 0;
  for (const Row& r : rows) failed += r.failed ? 1 : 0;
  std::printf("\n%zu cases", rows.size());
  if (failed) {
    std::printf(", %d FAILED (max_rel_err > %g)\n", failed, o.max_rel_err);
    return 1;
  }
  std::printf(", every verified case within max_rel_err %g\n", o.max_rel_err);
  return 0;
}

}  // namespace
}  // namespace ldm::bench::gpu

int main(int argc, char** argv) {
  try {
    return ldm::bench::gpu::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ldm-gpu-bench: error: %s\n", e.what());
    return 1;
  }
}
