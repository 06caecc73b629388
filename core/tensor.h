// Tensor: a shared handle to contiguous storage plus shape, dtype and device. Copies of a Tensor
// alias the same data (like torch.Tensor); clone() copies. Tensors made without a device go on
// default_device() (core/device.h). Layout is always contiguous row-major
// (NCHW for images); the only views are reshape/detach, which share storage.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/device.h"
#include "core/dtype.h"

namespace ldm {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "[64, 128, 8, 8]"
int64_t shape_numel(const Shape& shape);

// One allocator block; freed back to the device's caching allocator when the last tensor
// using it goes away.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct Node;  // an autograd tape entry, core/autograd.h

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset_bytes = 0;
  Shape shape;
  DType dtype = DType::kF32;
  bool requires_grad = false;        // a leaf the user wants gradients for, or an op output
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the node that produced this tensor (null for leaves)
  int output_index = 0;              // which output of grad_fn this is
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialized contents.
  static Tensor empty(const Shape& shape, DType dtype = DType::kF32, Device device = default_device());
  static Tensor zeros(const Shape& shape, DType dtype = DType::kF32, Device device = default_device());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::kF32,
                     Device device = default_device());
  // Copies `values` (numel must match the shape) into a new tensor of dtype T.
  template <typename T>
  static Tensor from_vector(std::span<const T> values, const Shape& shape,
                            Device device = default_device());
  template <typename T>
  static Tensor from_vector(std::initializer_list<T> values, const Shape& shape,
                            Device device = default_device()) {
    return from_vector<T>(std::span<const T>(values.begin(), values.size()), shape, device);
  }
  static Tensor empty_like(const Tensor& other) {
    return empty(other.shape(), other.dtype(), other.device());
  }
  static Tensor zeros_like(const Tensor& other) {
    return zeros(other.shape(), other.dtype(), other.device());
  }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int rank() const { return static_cast<int>(impl().shape.size()); }
  // Size of dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  std::string description() const;  // "f32 [64, 3, 8, 8]"

  // Pointers into the tensor's device memory: host memory for cpu and emu, GPU memory for cuda
  // (for kernels only; read it on the host through to_vector() or to(Device::cpu())).
  void* raw_data() const {
    return static_cast<char*>(impl().storage->data()) + impl().offset_bytes;
  }
  template <typename T>
  T* data() const {
    LDM_CHECK(dtype() == dtype_of<T>, "data<", dtype_name(dtype_of<T>), ">() on a ",
              dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw_data());
  }

  // Autograd. requires_grad() is true for leaves marked by the user and for op outputs that
  // depend on them.
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool value);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }  // undefined until a backward reaches it
  void set_grad(const Tensor& grad) { impl_->grad = grad.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Same storage, no autograd history.
  Tensor detach() const;
  // Deep copy with no autograd history.
  Tensor clone() const;
  // Converted copy (f32 <-> f64 <-> i32), no autograd history.
  Tensor to(DType dtype) const;
  // Copy on another device (this tensor itself when it is already there), no autograd history.
  Tensor to(Device device) const;
  // View with another shape of the same numel; autograd-aware (see core/ops/view.h).
  Tensor reshape(const Shape& shape) const;

  template <typename T>
  std::vector<T> to_vector() const;
  // The single value of a one-element tensor, as double.
  double item() const;

 private:
  TensorImpl& impl() const {
    LDM_CHECK(impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace ldm
