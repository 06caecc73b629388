// CPU adapters for concat, slice, permute and resampling.
#include <cstring>

#include "core/backend_common.h"
#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"
#include "kernels/cpu/elementwise.h"

namespace ldm::cpu_backend {

using kernels::ConcatSliceArgs;
using kernels::PermuteArgs;
using kernels::ResizeArgs;
namespace k = kernels::cpu;

void concat_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    for_each_concat_piece(c, c.in, [&](const ConcatSliceArgs& a, size_t i) {
      k::insert_copy<T>(a, in_ptr<T>(c, i), out_ptr<T>(c, 0));
    });
  });
}

void concat_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    for_each_concat_piece(c, c.out, [&](ConcatSliceArgs a, size_t i) {
      if (!c.out[i].defined()) return;
      // Reading a piece back out of the concatenation is a slice of it.
      a.dim_out = a.dim_in;
      a.dim_in = c.args<ConcatSliceArgs>().dim_out;
      k::slice_copy<T>(a, in_ptr<T>(c, 0), out_ptr<T>(c, i));
    });
  });
}

void slice_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::slice_copy<T>(c.args<ConcatSliceArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

void slice_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    // dx is zero outside the slice; the slice's gradient goes back into its place.
    const ConcatSliceArgs& s = c.args<ConcatSliceArgs>();
    ConcatSliceArgs a = s;
    a.dim_in = s.dim_out;
    a.dim_out = s.dim_in;
    std::memset(c.out[0].raw_data(), 0, c.out[0].nbytes());
    k::insert_copy<T>(a, in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

void permute_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::permute_copy<T>(c.args<PermuteArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

void permute_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    // dx is dy permuted back.
    k::permute_copy<T>(inverse_permute(c.args<PermuteArgs>()), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

void upsample_nearest_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::upsample_nearest_forward<T>(c.args<ResizeArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void upsample_nearest_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::upsample_nearest_backward<T>(c.args<ResizeArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

void resize_bilinear_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::resize_bilinear_forward<T>(c.args<ResizeArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void resize_bilinear_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::resize_bilinear_backward<T>(c.args<ResizeArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

}  // namespace ldm::cpu_backend
