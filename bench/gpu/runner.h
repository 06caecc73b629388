// The case runner of ldm-gpu-bench: which cases the filter selects, timing ours and the vendor
// library's version of each, the result check, and the rows for the table and the JSON report.
// Case files (cases_*.cpp) ask wants() before allocating anything, so a filtered or listed run
// touches no memory for the cases it skips.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cmath>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "bench/gpu/device.h"
#include "bench/gpu/strings.h"
#include "bench/gpu/timing.h"

namespace ldm::bench::gpu {

struct Options {
  std::string filter;  // ECMAScript regex searched in "name/where"; empty: every case
  TimingOptions timing;
  int device = 0;
  bool deterministic_ref = false;  // only deterministic cuDNN algorithms, like ours
  double max_rel_err = 1e-3;       // above this a verified case fails
  std::string json_path;
  bool list = false;
};

struct Measurement {
  Measurement(std::string name_, std::string where_, std::string shape_)
      : name(std::move(name_)), where(std::move(where_)), shape(std::move(shape_)) {}

  std::string name;   // the launcher, with the outputs asked for in brackets if not all
  std::string where;  // the layer of the model it stands for
  std::string shape;
  double bytes = 0;  // compulsory DRAM traffic: every input read once, every output written once
  double flops = 0;
  std::function<void()> ours;
  std::function<void()> ref;              // optional: cuDNN's or cuBLAS's version
  std::function<std::string()> ref_name;  // asked after ref has run (the algorithm it chose)
  std::function<double()> verify;         // optional: runs both once, returns the max rel error
};

struct Row {
  std::string name, where, shape, ref;
  double ms = 0, bytes = 0, flops = 0;
  double ref_ms = NAN, rel_err = NAN;
  bool failed = false;

  double gbs() const { return bytes / (ms * 1e-3) * 1e-9; }
  double gflops() const { return flops / (ms * 1e-3) * 1e-9; }
};

class Runner {
 public:
  // Listing: wants() prints each selected case and returns false; nothing touches a GPU.
  explicit Runner(const Options& options);
  // Timing on `device` (already selected with cudaSetDevice).
  Runner(const Options& options, const DeviceInfo& device);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  bool wants(const std::string& name, const std::string& where);
  void measure(const Measurement& m);

  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  const Options& options() const { return options_; }
  const std::vector<Row>& rows() const { return rows_; }
  int listed() const { return listed_; }

  void print_header() const;

 private:
  void print_row(const Row& r) const;

  Options options_;
  std::regex filter_;
  const DeviceInfo* device_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<Timer> timer_;
  std::vector<Row> rows_;
  int listed_ = 0;
};

// The case families, in the order of the table (cases_conv.cpp, cases_gemm.cpp,
// cases_memory.cpp).
void conv_cases(Runner& r);
void gemm_cases(Runner& r);
void norm_quantize_cases(Runner& r);
void elementwise_cases(Runner& r);
void embedding_cases(Runner& r);
void diffusion_cases(Runner& r);
void optim_cases(Runner& r);
void activation_cases(Runner& r);

}  // namespace ldm::bench::gpu
