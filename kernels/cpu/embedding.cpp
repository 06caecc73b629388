// CPU timestep/label embeddings and the MSE loss (see embedding.h for shapes). Gradients that
// sum over many items (embedding rows, the loss) use a fixed order that no thread count changes.
#include "kernels/cpu/embedding.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

// Column blocks for the embedding scatter-add: each thread owns whole columns, so rows that share
// an index are still summed in index order n = 0, 1, ...
constexpr int64_t kColumnBlock = 64;
// Reduction blocks for the loss: fixed size, so the summation tree does not depend on threads.
constexpr int64_t kLossBlock = 4096;
constexpr int64_t kLanes = 8;

// freq_i = exp(-ln(max_period) * i / half) for i < half, in per-thread scratch.
template <typename T>
const T* frequencies(const TimestepEmbeddingArgs& a, int64_t half) {
  thread_local std::vector<T> freq;
  if (static_cast<int64_t>(freq.size()) < half) freq.resize(half);
  const T neg_log = static_cast<T>(-std::log(a.max_period));
  for (int64_t i = 0; i < half; ++i) {
    freq[i] = std::exp(neg_log * static_cast<T>(i) / static_cast<T>(half));
  }
  return freq.data();
}

template <typename T>
double squared_error_sum(const T* __restrict x, const T* __restrict y, int64_t n) {
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) {
      const double d = static_cast<double>(x[j + l]) - static_cast<double>(y[j + l]);
      acc[l] += d * d;
    }
  }
  double s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; j < n; ++j) {
    const double d = static_cast<double>(x[j]) - static_cast<double>(y[j]);
    s += d * d;
  }
  return s;
}

}  // namespace

template <typename T>
void timestep_embedding_forward(const TimestepEmbeddingArgs& a, const T* t, T* out) {
  const int64_t dim = a.dim, half = dim / 2;
  const T* freq = frequencies<T>(a, half);
  parallel_for(a.N, 16 * dim, [&](int64_t n) {
    T* __restrict row = out + n * dim;
    const T tn = t[n];
    for (int64_t i = 0; i < half; ++i) {
      const T arg = tn * freq[i];
      row[i] = std::sin(arg);
      row[half + i] = std::cos(arg);
    }
    if (dim % 2 == 1) row[dim - 1] = 0;
  });
}

template <typename T>
void timestep_embedding_backward(const TimestepEmbeddingArgs& a, const T* t, const T* dout,
                                 T* dt) {
  const int64_t dim = a.dim, half = dim / 2;
  const T* freq = frequencies<T>(a, half);
  parallel_for(a.N, 16 * dim, [&](int64_t n) {
    const T* __restrict g = dout + n * dim;
    const T tn = t[n];
    T s = 0;
    for (int64_t i = 0; i < half; ++i) {
      const T arg = tn * freq[i];
      s += freq[i] * (g[i] * std::cos(arg) - g[half + i] * std::sin(arg));
    }
    dt[n] = s;
  });
}

template <typename T>
void embedding_forward(const EmbeddingArgs& a, const T* table, const int32_t* idx, T* out) {
  const int64_t D = a.D;
  parallel_for(a.N, D, [&](int64_t n) {
    const T* src = table + static_cast<int64_t>(idx[n]) * D;
    std::copy(src, src + D, out + n * D);
  });
}

template <typename T>
void embedding_backward(const EmbeddingArgs& a, const int32_t* idx, const T* dout, T* dtable) {
  const int64_t N = a.N, V = a.V, D = a.D;
  const int64_t blocks = (D + kColumnBlock - 1) / kColumnBlock;
  parallel_for(blocks, (N + V) * kColumnBlock, [&](int64_t b) {
    const int64_t c0 = b * kColumnBlock, c1 = std::min(D, c0 + kColumnBlock);
    for (int64_t v = 0; v < V; ++v) std::fill(dtable + v * D + c0, dtable + v * D + c1, T(0));
    for (int64_t n = 0; n < N; ++n) {
      T* __restrict dst = dtable + static_cast<int64_t>(idx[n]) * D;
      const T* __restrict src = dout + n * D;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  });
}

template <typename T>
void mse_loss_forward(int64_t n, const T* x, const T* y, T* loss) {
  const int64_t blocks = (n + kLossBlock - 1) / kLossBlock;
  thread_local std::vector<double> partial;
  if (static_cast<int64_t>(partial.size()) < blocks) partial.resize(blocks);
  double* part = partial.data();
  parallel_for(blocks, kLossBlock, [&](int64_t b) {
    const int64_t i0 = b * kLossBlock, i1 = std::min(n, i0 + kLossBlock);
    part[b] = squared_error_sum(x + i0, y + i0, i1 - i0);
  });
  double total = 0;
  for (int64_t b = 0; b < blocks; ++b) total += part[b];
  // n == 0 gives NaN, the mean of nothing (as PyTorch).
  *loss = static_cast<T>(total / static_cast<double>(n));
}

template <typename T>
void mse_loss_backward(int64_t n, const T* x, const T* y, T dloss, T* dx, T* dy) {
  if (!dx && !dy) return;
  const T coef = static_cast<T>(2.0 * static_cast<double>(dloss) / static_cast<double>(n));
  const int64_t blocks = (n + kLossBlock - 1) / kLossBlock;
  parallel_for(blocks, kLossBlock, [&](int64_t b) {
    const int64_t i0 = b * kLossBlock, i1 = std::min(n, i0 + kLossBlock);
    if (dx) {
      for (int64_t i = i0; i < i1; ++i) dx[i] = coef * (x[i] - y[i]);
    }
    if (dy) {
      for (int64_t i = i0; i < i1; ++i) dy[i] = -coef * (x[i] - y[i]);
    }
  });
}

#define LDM_INSTANTIATE(T)                                                                      \
  template void timestep_embedding_forward<T>(const TimestepEmbeddingArgs&, const T*, T*);      \
  template void timestep_embedding_backward<T>(const TimestepEmbeddingArgs&, const T*,         \
                                               const T*, T*);                                   \
  template void embedding_forward<T>(const EmbeddingArgs&, const T*, const int32_t*, T*);       \
  template void embedding_backward<T>(const EmbeddingArgs&, const int32_t*, const T*, T*);      \
  template void mse_loss_forward<T>(int64_t, const T*, const T*, T*);                           \
  template void mse_loss_backward<T>(int64_t, const T*, const T*, T, T*, T*);
LDM_INSTANTIATE(float)
LDM_INSTANTIATE(double)
#undef LDM_INSTANTIATE

}  // namespace ldm::kernels::cpu
