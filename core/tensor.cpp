// Tensor construction, conversion and copies. Contents are filled and converted on the host; a
// tensor on a device the host cannot address (cuda) is staged through a CPU copy.
#include "core/tensor.h"

#include <algorithm>
#include <sstream>

#include "core/allocator.h"
#include "core/ops/view.h"

namespace ldm {

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = allocator_for(device).allocate(bytes);
}

Storage::~Storage() { allocator_for(device_).deallocate(data_, bytes_); }

namespace {

void require_valid_shape(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) fail("tensor shape ", shape_str(shape), " has a negative dimension");
}

template <typename F>
void visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32: f.template operator()<float>(); return;
    case DType::kF64: f.template operator()<double>(); return;
    case DType::kI32: f.template operator()<int32_t>(); return;
    default: fail("dtype ", dtype_name(dtype), " is not supported on the cpu device yet");
  }
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  require_valid_shape(shape);
  if (dtype == DType::kBF16 || dtype == DType::kF16)
    fail("dtype ", dtype_name(dtype), " is not supported on the cpu device yet");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  zero_bytes(t.raw_data(), device, t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  if (!host_accessible(device)) return full(shape, value, dtype, Device::cpu()).to(device);
  Tensor t = empty(shape, dtype, device);
  visit_dtype(dtype, [&]<typename T>() { std::fill_n(t.data<T>(), t.numel(), static_cast<T>(value)); });
  return t;
}

template <typename T>
Tensor Tensor::from_vector(std::span<const T> values, const Shape& shape, Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    fail("from_vector: ", values.size(), " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>, device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), t.nbytes());
  return t;
}
template Tensor Tensor::from_vector<float>(std::span<const float>, const Shape&, Device);
template Tensor Tensor::from_vector<double>(std::span<const double>, const Shape&, Device);
template Tensor Tensor::from_vector<int32_t>(std::span<const int32_t>, const Shape&, Device);

int64_t Tensor::dim(int i) const {
  const int r = rank();
  const int k = i < 0 ? i + r : i;
  LDM_CHECK(k >= 0 && k < r, "dim(", i, ") of a rank-", r, " tensor");
  return impl().shape[static_cast<size_t>(k)];
}

std::string Tensor::description() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + " " + shape_str(shape());
}

Tensor& Tensor::set_requires_grad(bool value) {
  if (value && !is_floating(dtype()))
    fail("set_requires_grad: a ", description(), " tensor cannot require gradients");
  if (!is_leaf()) fail("set_requires_grad: only leaf tensors can be marked (got an op output)");
  impl().requires_grad = value;
  return *this;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset_bytes = impl_->offset_bytes;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  copy_bytes(t.raw_data(), device(), raw_data(), device(), nbytes());
  return t;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return detach();
  Tensor t = empty(shape(), dtype(), target);
  copy_bytes(t.raw_data(), target, raw_data(), device(), nbytes());
  return t;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return clone();
  if (!host_accessible(device())) return to(Device::cpu()).to(target).to(device());
  Tensor t = empty(shape(), target, device());
  visit_dtype(dtype(), [&]<typename From>() {
    visit_dtype(target, [&]<typename To>() {
      std::transform(data<From>(), data<From>() + numel(), t.data<To>(),
                     [](From v) { return static_cast<To>(v); });
    });
  });
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const { return ops::reshape(*this, shape); }

template <typename T>
std::vector<T> Tensor::to_vector() const {
  const Tensor on_host = host_accessible(device()) ? *this : to(Device::cpu());
  const Tensor converted = dtype() == dtype_of<T> ? on_host : on_host.to(dtype_of<T>);
  const T* p = converted.data<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;

double Tensor::item() const {
  if (numel() != 1) fail("item() on a ", description(), " tensor: it needs exactly one element");
  return to_vector<double>()[0];
}

}  // namespace ldm
