// The vendor libraries ldm-gpu-bench measures our kernels against, on the same device buffers:
// cuDNN's legacy convolution API (cuDNN 9 still ships it) with the fastest FP32 algorithm that
// cudnnFindConvolution*Algorithm reports, and cuBLAS sgemm for the linear and batched matmul
// layers. Both are held to plain FP32 (no TF32 tensor-core paths), the arithmetic our kernels use.
// Row-major callers: the gemm wrappers map our [rows, cols] layouts onto cuBLAS's column-major.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include <cstdint>
#include <string>

#include "bench/gpu/buffers.h"

namespace ldm::bench::gpu {

// A cross-correlation in cuDNN's terms: x [N, C, H, W] * w [K, C, k, k] -> y [N, K, Ho, Wo].
// conv2d is this as written; conv_transpose2d (weights [C_in, C_out, k, k]) is its adjoint with
// x = the transposed conv's output and y = its input, so its forward is backward_data.
struct ConvGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;  // x
  int64_t K = 0, Ho = 0, Wo = 0;       // y
  int64_t kernel = 1, stride = 1, padding = 0;
};

enum class Side { kX, kY };  // which tensor a bias belongs to

class CudnnConv {
 public:
  // Checks that cuDNN's output size for the geometry is (Ho, Wo).
  CudnnConv(cudnnHandle_t handle, const ConvGeometry& g, bool deterministic_only);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // Algorithms are searched on first use (the search runs every candidate once).
  void forward(const float* x, const float* w, float* y);
  void backward_data(const float* w, const float* dy, float* dx);
  void backward_filter(const float* x, const float* dy, float* dw);
  void add_bias(Side side, const float* bias, float* t);         // t += bias per channel
  void backward_bias(Side side, const float* dt, float* dbias);  // dbias = sum of dt per channel

  // e.g. "IMPLICIT_PRECOMP_GEMM"; empty before the first call.
  const std::string& forward_algo() const { return fwd_name_; }
  const std::string& backward_data_algo() const { return bwd_data_name_; }
  const std::string& backward_filter_algo() const { return bwd_filter_name_; }

 private:
  void reserve_workspace(size_t bytes);

  cudnnHandle_t handle_;
  bool deterministic_only_;
  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  cudnnTensorDescriptor_t x_bias_desc_ = nullptr, y_bias_desc_ = nullptr;
  cudnnFilterDescriptor_t w_desc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_desc_ = nullptr;
  bool have_fwd_ = false, have_bwd_data_ = false, have_bwd_filter_ = false;
  cudnnConvolutionFwdAlgo_t fwd_algo_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo_{};
  std::string fwd_name_, bwd_data_name_, bwd_filter_name_;
  size_t fwd_bytes_ = 0, bwd_data_bytes_ = 0, bwd_filter_bytes_ = 0;  // each algorithm's workspace
  DeviceBuffer<unsigned char> workspace_;
};

// y[M, N] = x[M, K] w[N, K]^T (row-major; the linear layer without its bias).
void cublas_linear_forward(cublasHandle_t h, int64_t M, int64_t N, int64_t K, const float* x,
                           const float* w, float beta, float* y);
// dx[M, K] = dy w, dw[N, K] = dy^T x, db[N] = dy^T ones (ones: M floats of 1).
void cublas_linear_backward(cublasHandle_t h, int64_t M, int64_t N, int64_t K, const float* x,
                            const float* w, const float* dy, const float* ones, float* dx,
                            float* dw, float* db);
// out[B, M, N] = x[B, M, K] y[B, K, N].
void cublas_matmul_forward(cublasHandle_t h, int64_t B, int64_t M, int64_t N, int64_t K,
                           const float* x, const float* y, float* out);
// dx[B, M, K] = dout y^T, dy[B, K, N] = x^T dout.
void cublas_matmul_backward(cublasHandle_t h, int64_t B, int64_t M, int64_t N, int64_t K,
                            const float* x, const float* y, const float* dout, float* dx,
                            float* dy);

}  // namespace ldm::bench::gpu
