// cuDNN convolutions and cuBLAS gemms on our layouts (see reference.h).
#include "bench/gpu/reference.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/gpu/check.h"
#include "bench/gpu/strings.h"

namespace ldm::bench::gpu {
namespace {

constexpr const char* kFwdNames[] = {
    "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
    "WINOGRAD",      "WINOGRAD_NONFUSED"};
constexpr const char* kBwdDataNames[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                         "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kBwdFilterNames[] = {
    "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};

template <size_t n>
std::string algo_name(const char* const (&names)[n], int algo) {
  if (algo >= 0 && static_cast<size_t>(algo) < n) return names[algo];
  return format("algo %d", algo);
}

int as_int(int64_t v) {
  return static_cast<int>(v);
}

void set_4d(cudnnTensorDescriptor_t d, int64_t n, int64_t c, int64_t h, int64_t w) {
  LDM_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, as_int(n), as_int(c),
                                       as_int(h), as_int(w)));
}

// Find's results come sorted fastest first. Tensor-op (TF32) results are skipped: the
// descriptor asks for FMA math, but a library may still offer them, and they would compare
// a different arithmetic.
template <typename Perf>
const Perf& pick(const std::vector<Perf>& results, int returned, bool deterministic_only,
                 const char* what) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = results[static_cast<size_t>(i)];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    if (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      continue;
    if (deterministic_only && p.determinism != CUDNN_DETERMINISTIC) continue;
    return p;
  }
  std::fprintf(stderr, "ldm-gpu-bench: cuDNN offers no usable FP32 %s algorithm%s\n", what,
               deterministic_only ? " (deterministic only)" : "");
  std::exit(1);
}

const float kOne = 1.0f, kZero = 0.0f;

}  // namespace

CudnnConv::CudnnConv(cudnnHandle_t handle, const ConvGeometry& g, bool deterministic_only)
    : handle_(handle), deterministic_only_(deterministic_only) {
  LDM_CHECK(cudnnCreateTensorDescriptor(&x_desc_));
  LDM_CHECK(cudnnCreateTensorDescriptor(&y_desc_));
  LDM_CHECK(cudnnCreateTensorDescriptor(&x_bias_desc_));
  LDM_CHECK(cudnnCreateTensorDescriptor(&y_bias_desc_));
  LDM_CHECK(cudnnCreateFilterDescriptor(&w_desc_));
  LDM_CHECK(cudnnCreateConvolutionDescriptor(&conv_desc_));
  set_4d(x_desc_, g.N, g.C, g.H, g.W);
  set_4d(y_desc_, g.N, g.K, g.Ho, g.Wo);
  set_4d(x_bias_desc_, 1, g.C, 1, 1);
  set_4d(y_bias_desc_, 1, g.K, 1, 1);
  LDM_CHECK(cudnnSetFilter4dDescriptor(w_desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, as_int(g.K),
                                       as_int(g.C), as_int(g.kernel), as_int(g.kernel)));
  // PyTorch's conv is a cross-correlation.
  LDM_CHECK(cudnnSetConvolution2dDescriptor(conv_desc_, as_int(g.padding), as_int(g.padding),
                                            as_int(g.stride), as_int(g.stride), 1, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  LDM_CHECK(cudnnSetConvolutionMathType(conv_desc_, CUDNN_FMA_MATH));
  int n = 0, c = 0, h = 0, w = 0;
  LDM_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_desc_, x_desc_, w_desc_, &n, &c, &h, &w));
  if (n != g.N || c != g.K || h != g.Ho || w != g.Wo) {
    std::fprintf(
        stderr,
        "ldm-gpu-bench: cuDNN's conv output is %dx%dx%dx%d, the case's %lldx%lldx%lldx%lld\n", n, c,
        h, w, static_cast<long long>(g.N), static_cast<long long>(g.K),
        static_cast<long long>(g.Ho), static_cast<long long>(g.Wo));
    std::exit(1);
  }
}

CudnnConv::~CudnnConv() {
  cudnnDestroyConvolutionDescriptor(conv_desc_);
  cudnnDestroyFilterDescriptor(w_desc_);
  cudnnDestroyTensorDescriptor(y_bias_desc_);
  cudnnDestroyTensorDescriptor(x_bias_desc_);
  cudnnDestroyTensorDescriptor(y_desc_);
  cudnnDestroyTensorDescriptor(x_desc_);
}

// One workspace for the three directions, grown on a search (never while timing).
void CudnnConv::reserve_workspace(size_t bytes) {
  if (static_cast<size_t>(workspace_.size()) < bytes)
    workspace_ = DeviceBuffer<unsigned char>(static_cast<int64_t>(bytes));
}

void CudnnConv::forward(const float* x, const float* w, float* y) {
  if (!have_fwd_) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    int returned = 0;
    LDM_CHECK(cudnnFindConvolutionForwardAlgorithm(handle_, x_desc_, w_desc_, conv_desc_, y_desc_,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                   perf.data()));
    const auto& best = pick(perf, returned, deterministic_only_, "forward");
    fwd_algo_ = best.algo;
    fwd_name_ = algo_name(kFwdNames, best.algo);
    LDM_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle_, x_desc_, w_desc_, conv_desc_,
                                                      y_desc_, fwd_algo_, &fwd_bytes_));
    reserve_workspace(fwd_bytes_);
    have_fwd_ = true;
  }
  LDM_CHECK(cudnnConvolutionForward(handle_, &kOne, x_desc_, x, w_desc_, w, conv_desc_, fwd_algo_,
                                    workspace_.get(), fwd_bytes_, &kZero, y_desc_, y));
}

void CudnnConv::backward_data(const float* w, const float* dy, float* dx) {
  if (!have_bwd_data_) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    int returned = 0;
    LDM_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
        handle_, w_desc_, y_desc_, conv_desc_, x_desc_, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
        &returned, perf.data()));
    const auto& best = pick(perf, returned, deterministic_only_, "backward-data");
    bwd_data_algo_ = best.algo;
    bwd_data_name_ = algo_name(kBwdDataNames, best.algo);
    LDM_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
        handle_, w_desc_, y_desc_, conv_desc_, x_desc_, bwd_data_algo_, &bwd_data_bytes_));
    reserve_workspace(bwd_data_bytes_);
    have_bwd_data_ = true;
  }
  LDM_CHECK(cudnnConvolutionBackwardData(handle_, &kOne, w_desc_, w, y_desc_, dy, conv_desc_,
                                         bwd_data_algo_, workspace_.get(), bwd_data_bytes_, &kZero,
                                         x_desc_, dx));
}

void CudnnConv::backward_filter(const float* x, const float* dy, float* dw) {
  if (!have_bwd_filter_) {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    int returned = 0;
    LDM_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
        handle_, x_desc_, y_desc_, conv_desc_, w_desc_, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
        &returned, perf.data()));
    const auto& best = pick(perf, returned, deterministic_only_, "backward-filter");
    bwd_filter_algo_ = best.algo;
    bwd_filter_name_ = algo_name(kBwdFilterNames, best.algo);
    LDM_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
        handle_, x_desc_, y_desc_, conv_desc_, w_desc_, bwd_filter_algo_, &bwd_filter_bytes_));
    reserve_workspace(bwd_filter_bytes_);
    have_bwd_filter_ = true;
  }
  LDM_CHECK(cudnnConvolutionBackwardFilter(handle_, &kOne, x_desc_, x, y_desc_, dy, conv_desc_,
                                           bwd_filter_algo_, workspace_.get(), bwd_filter_bytes_,
                                           &kZero, w_desc_, dw));
}

void CudnnConv::add_bias(Side side, const float* bias, float* t) {
  const bool x = side == Side::kX;
  LDM_CHECK(cudnnAddTensor(handle_, &kOne, x ? x_bias_desc_ : y_bias_desc_, bias, &kOne,
                           x ? x_desc_ : y_desc_, t));
}

void CudnnConv::backward_bias(Side side, const float* dt, float* dbias) {
  const bool x = side == Side::kX;
  LDM_CHECK(cudnnConvolutionBackwardBias(handle_, &kOne, x ? x_desc_ : y_desc_, dt, &kZero,
                                         x ? x_bias_desc_ : y_bias_desc_, dbias));
}

// Row-major [r, c] is column-major [c, r]: each row-major product C = A B is computed as
// C^T = B^T A^T, with the operands' roles and transposes swapped accordingly.
void cublas_linear_forward(cublasHandle_t h, int64_t M, int64_t N, int64_t K, const float* x,
                           const float* w, float beta, float* y) {
  // y^T [N, M] = w [N, K] (w^T stored) . x^T [K, M]
  LDM_CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, as_int(N), as_int(M), as_int(K), &kOne, w,
                        as_int(K), x, as_int(K), &beta, y, as_int(N)));
}

void cublas_linear_backward(cublasHandle_t h, int64_t M, int64_t N, int64_t K, const float* x,
                            const float* w, const float* dy, const float* ones, float* dx,
                            float* dw, float* db) {
  // dx^T [K, M] = w^T [K, N] . dy^T [N, M]
  LDM_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, as_int(K), as_int(M), as_int(N), &kOne, w,
                        as_int(K), dy, as_int(N), &kZero, dx, as_int(K)));
  // dw^T [K, N] = x^T [K, M] . dy [M, N]
  LDM_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, as_int(K), as_int(N), as_int(M), &kOne, x,
                        as_int(K), dy, as_int(N), &kZero, dw, as_int(K)));
  // db [N] = dy^T [N, M] . ones [M]
  LDM_CHECK(cublasSgemv(h, CUBLAS_OP_N, as_int(N), as_int(M), &kOne, dy, as_int(N), ones, 1, &kZero,
                        db, 1));
}

void cublas_matmul_forward(cublasHandle_t h, int64_t B, int64_t M, int64_t N, int64_t K,
                           const float* x, const float* y, float* out) {
  // out^T [N, M] = y^T [N, K] . x^T [K, M], per batch
  LDM_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, as_int(N), as_int(M), as_int(K),
                                      &kOne, y, as_int(N), K * N, x, as_int(K), M * K, &kZero, out,
                                      as_int(N), M * N, as_int(B)));
}

void cublas_matmul_backward(cublasHandle_t h, int64_t B, int64_t M, int64_t N, int64_t K,
                            const float* x, const float* y, const float* dout, float* dx,
                            float* dy) {
  // dx^T [K, M] = y [K, N] (y^T stored) . dout^T [N, M]
  LDM_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, as_int(K), as_int(M), as_int(N),
                                      &kOne, y, as_int(N), K * N, dout, as_int(N), M * N, &kZero,
                                      dx, as_int(K), M * K, as_int(B)));
  // dy^T [N, K] = dout^T [N, M] . x [M, K] (x^T stored)
  LDM_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, as_int(N), as_int(K), as_int(M),
                                      &kOne, dout, as_int(N), M * N, x, as_int(K), M * K, &kZero,
                                      dy, as_int(N), K * N, as_int(B)));
}

}  // namespace ldm::bench::gpu
