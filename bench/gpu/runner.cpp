// The case runner (see runner.h).
#include "bench/gpu/runner.h"

#include <cstdio>

#include "bench/gpu/check.h"

namespace ldm::bench::gpu {

Runner::Runner(const Options& options) : options_(options), filter_(options.filter) {}

Runner::Runner(const Options& options, const DeviceInfo& device)
    : options_(options), filter_(options.filter), device_(&device) {
  // A blocking stream: the cases' synchronous cudaMemcpy uploads and downloads order with it.
  LDM_CHECK(cudaStreamCreate(&stream_));
  LDM_CHECK(cudnnCreate(&cudnn_));
  LDM_CHECK(cudnnSetStream(cudnn_, stream_));
  LDM_CHECK(cublasCreate(&cublas_));
  LDM_CHECK(cublasSetStream(cublas_, stream_));
  // FP32 FMA, no TF32: the arithmetic of our kernels (NVIDIA_TF32_OVERRIDE=1 would change it).
  LDM_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  timer_ = std::make_unique<Timer>(stream_, options_.timing, device.l2_bytes);
}

Runner::~Runner() {
  timer_.reset();
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream_) cudaStreamDestroy(stream_);
}

bool Runner::wants(const std::string& name, const std::string& where) {
  const std::string id = name + "/" + where;
  if (!options_.filter.empty() && !std::regex_search(id, filter_)) return false;
  if (options_.list) {
    std::printf("%s\n", id.c_str());
    ++listed_;
    return false;
  }
  return true;
}

void Runner::measure(const Measurement& m) {
  Row row;
  row.name = m.name;
  row.where = m.where;
  row.shape = m.shape;
  row.bytes = m.bytes;
  row.flops = m.flops;
  row.ms = timer_->time_ms(m.ours);
  if (m.ref) {
    row.ref_ms = timer_->time_ms(m.ref);
    row.ref = m.ref_name ? m.ref_name() : "";
  }
  if (m.verify) {
    row.rel_err = m.verify();
    row.failed = !(row.rel_err <= options_.max_rel_err);  // NaN fails too
  }
  print_row(row);
  rows_.push_back(row);
}

namespace {
constexpr const char* kRowFormat = "%-32s %-17s %-34s %9s %8s %9s %6s %6s %8s %-13s %s\n";
}

void Runner::print_header() const {
  std::printf(kRowFormat, "kernel", "where", "shape", "ms", "GB/s", "GFLOP/s", "%BW", "%FLOP",
              "ours/ref", "max_rel_err", "reference");
}

void Runner::print_row(const Row& r) const {
  auto fmt = [](const char* f, double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, f, v);
    return std::string(buffer);
  };
  const std::string ratio = std::isnan(r.ref_ms) ? "-" : fmt("%.2f", r.ms / r.ref_ms);
  std::string err = std::isnan(r.rel_err) ? "-" : fmt("%.1e", r.rel_err);
  if (r.failed) err += " FAIL";
  std::printf(kRowFormat, r.name.c_str(), r.where.c_str(), r.shape.c_str(),
              fmt("%.4f", r.ms).c_str(), fmt("%.1f", r.gbs()).c_str(),
              fmt("%.1f", r.gflops()).c_str(),
              fmt("%.1f", 100 * r.gbs() / device_->peak_bandwidth_gbs()).c_str(),
              fmt("%.1f", 100 * r.gflops() / device_->peak_fp32_gflops()).c_str(), ratio.c_str(),
              err.c_str(), r.ref.empty() ? "-" : r.ref.c_str());
  std::fflush(stdout);
}

}  // namespace ldm::bench::gpu
