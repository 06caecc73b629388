// Row-major GEMM over OpenBLAS for both scalar types the CPU kernels are instantiated with:
// float (the fast path) and double (the gradient-check reference).
#pragma once

#include <cblas.h>

#include <cstdint>

namespace ldm::kernels::cpu {

enum class Trans { kNo, kYes };

// C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C, all row-major with leading dims.
template <typename T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

template <>
inline void gemm<float>(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K,
                        float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                        float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a == Trans::kYes ? CblasTrans : CblasNoTrans,
              trans_b == Trans::kYes ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

template <>
inline void gemm<double>(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K,
                         double alpha, const double* A, int64_t lda, const double* B,
                         int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a == Trans::kYes ? CblasTrans : CblasNoTrans,
              trans_b == Trans::kYes ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

// Same, with the lead dims of tightly packed matrices filled in.
template <typename T>
void gemm_packed(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                 const T* A, const T* B, T beta, T* C) {
  const int64_t lda = trans_a == Trans::kYes ? M : K;
  const int64_t ldb = trans_b == Trans::kYes ? K : N;
  gemm<T>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

}  // namespace ldm::kernels::cpu
