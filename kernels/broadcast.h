// The iteration space of a broadcasting op, shared by the CPU and CUDA elementwise kernels (host
// code): up to three operands with per-operand element strides (0 along the dims an operand is
// broadcast along). Size-1 dims are dropped and neighbours merged while every operand stays
// linear across them, so [N, C, H, W] (+) [N, C, 1, 1] becomes [N * C, H * W] with strides
// [HW, 1] / [1, 0]. Dims are left-aligned: [0, rank) are used, the last fastest.
#pragma once

#include <cstdint>

#include "kernels/args.h"

namespace ldm::kernels {

struct Strided {
  static constexpr int kRank = BroadcastArgs::kMaxRank;
  int rank = 0;
  int64_t size[kRank] = {};
  int64_t stride[3][kRank] = {};
};

// shapes[k] is operand k's shape, contiguous, broadcast against iter_shape (all rank kRank).
inline Strided make_strided(const int64_t* iter_shape, const int64_t* const* shapes, int ops) {
  constexpr int kRank = Strided::kRank;
  int64_t st[3][kRank];
  for (int k = 0; k < ops; ++k) {
    int64_t s = 1;
    for (int d = kRank - 1; d >= 0; --d) {
      st[k][d] = shapes[k][d] == 1 ? 0 : s;
      s *= shapes[k][d];
    }
  }
  Strided r;
  for (int d = 0; d < kRank; ++d) {
    if (iter_shape[d] == 1) continue;
    bool merge = r.rank > 0;
    for (int k = 0; k < ops && merge; ++k) merge = r.stride[k][r.rank - 1] == st[k][d] * iter_shape[d];
    const int at = merge ? r.rank - 1 : r.rank++;
    r.size[at] = merge ? r.size[at] * iter_shape[d] : iter_shape[d];
    for (int k = 0; k < ops; ++k) r.stride[k][at] = st[k][d];
  }
  if (r.rank == 0) {  // a single element
    r.rank = 1;
    r.size[0] = 1;
    for (int k = 0; k < ops; ++k) r.stride[k][0] = 1;
  }
  return r;
}

}  // namespace ldm::kernels
