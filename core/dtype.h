// Element types. f32 is the working type; f64 runs the same kernels for gradient checks; i32
// holds indices and labels; bf16/f16 are reserved for the GPU backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ldm {

enum class DType { kF32, kF64, kI32, kBF16, kF16 };

constexpr size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kI32: return 4;
    case DType::kBF16: return 2;
    case DType::kF16: return 2;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF64: return "f64";
    case DType::kI32: return "i32";
    case DType::kBF16: return "bf16";
    case DType::kF16: return "f16";
  }
  return "?";
}

constexpr bool is_floating(DType dtype) { return dtype != DType::kI32; }

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kF64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <typename T> inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace ldm
