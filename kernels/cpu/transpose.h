// A blocked 2-D transpose for the CPU kernels that move images between NCHW planes and
// channels-last rows (conv's pixel-row im2col, Winograd's tile transforms).
#pragma once

#include <algorithm>
#include <cstdint>

namespace ldm::kernels::cpu {

// dst[j * ldd + i] = src[i * lds + j] + bias[j] (bias may be null) for i < rows, j < cols.
// Square tiles, so that both sides are walked a cache line at a time.
template <typename T>
void transpose_2d(const T* __restrict src, int64_t lds, int64_t rows, int64_t cols, const T* bias,
                  T* __restrict dst, int64_t ldd) {
  constexpr int64_t kTile = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
    const int64_t i1 = std::min(rows, i0 + kTile);
    for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
      const int64_t j1 = std::min(cols, j0 + kTile);
      for (int64_t j = j0; j < j1; ++j) {
        const T b = bias ? bias[j] : T(0);
        for (int64_t i = i0; i < i1; ++i) dst[j * ldd + i] = src[i * lds + j] + b;
      }
    }
  }
}

}  // namespace ldm::kernels::cpu
