// Error checks for every CUDA runtime, cuDNN and cuBLAS call in ldm-gpu-bench: a failure prints
// file:line, the call and the library's error string, then exits 1. A benchmark has nothing
// sensible to recover to, and a wrong-but-running number is worse than none.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdio>
#include <cstdlib>

namespace ldm::bench::gpu {

[[noreturn]] inline void die(const char* library, const char* call, const char* file, int line,
                             const char* message) {
  std::fprintf(stderr, "ldm-gpu-bench: %s:%d: %s call %s failed: %s\n", file, line, library, call,
               message);
  std::exit(1);
}

inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) die("CUDA", call, file, line, cudaGetErrorString(status));
}
inline void check(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) die("cuDNN", call, file, line, cudnnGetErrorString(status));
}
inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    die("cuBLAS", call, file, line, cublasGetStatusString(status));
}

}  // namespace ldm::bench::gpu

// One macro for the three libraries: the overload picks the error-string function.
#define LDM_CHECK(call) ::ldm::bench::gpu::check((call), #call, __FILE__, __LINE__)
