// Tensor handle semantics (factories, conversion, views, copies) and the CPU caching allocator
// under it: what every op and model silently relies on.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/allocator.h"
#include "core/tensor.h"

namespace ldm::test {
namespace {

bool aligned64(const Tensor& t) {
  return reinterpret_cast<uintptr_t>(t.raw_data()) % Allocator::kAlignment == 0;
}

AllocatorStats cpu_stats() {
  return allocator_for(Device::cpu()).stats();
}

TEST_CASE("factories give the requested shape, dtype and contents", "[tensor]") {
  const Tensor e = Tensor::empty({2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.dtype() == DType::kF32);
  CHECK(e.device() == Device::cpu());
  CHECK(e.numel() == 24);
  CHECK(e.nbytes() == 96);
  CHECK(e.rank() == 3);
  CHECK(e.dim(0) == 2);
  CHECK(e.dim(-1) == 4);
  CHECK(e.description() == "f32 [2, 3, 4]");

  const Tensor z = Tensor::zeros({5, 7}, DType::kF64);
  CHECK(z.dtype() == DType::kF64);
  CHECK(z.nbytes() == 5 * 7 * 8);
  for (double v : z.to_vector<double>()) CHECK(v == 0.0);

  const Tensor f = Tensor::full({3}, -2.5);
  CHECK(f.to_vector<float>() == std::vector<float>{-2.5f, -2.5f, -2.5f});
  const Tensor fi = Tensor::full({2, 2}, 7.0, DType::kI32);
  CHECK(fi.dtype() == DType::kI32);
  CHECK(fi.to_vector<int32_t>() == std::vector<int32_t>{7, 7, 7, 7});

  const Tensor v = Tensor::from_vector<float>({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  CHECK(v.shape() == Shape{2, 3});
  CHECK(v.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(v.data<float>()[4] == 5.f);  // row-major: [1][1]
  const Tensor vi = Tensor::from_vector<int32_t>({-3, 0, 9}, {3});
  CHECK(vi.dtype() == DType::kI32);
  CHECK(vi.to_vector<int32_t>() == std::vector<int32_t>{-3, 0, 9});
  const Tensor vd = Tensor::from_vector<double>({0.1, 0.2}, {2, 1});
  CHECK(vd.dtype() == DType::kF64);
  CHECK(vd.to_vector<double>() == std::vector<double>{0.1, 0.2});

  const Tensor like = Tensor::zeros_like(vd);
  CHECK(like.shape() == vd.shape());
  CHECK(like.dtype() == DType::kF64);
  CHECK(like.raw_data() != vd.raw_data());
  CHECK(Tensor::empty_like(vi).dtype() == DType::kI32);

  // A rank-0 tensor holds one element; a zero-sized dim holds none.
  const Tensor scalar = Tensor::full({}, 4.0);
  CHECK(scalar.rank() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(scalar.description() == "f32 []");
  const Tensor none = Tensor::zeros({0, 3});
  CHECK(none.numel() == 0);
  CHECK(none.nbytes() == 0);

  CHECK(shape_str({64, 128, 8, 8}) == "[64, 128, 8, 8]");
  CHECK(shape_numel({}) == 1);
  CHECK(!Tensor().defined());
}

TEST_CASE("factories reject bad arguments with ldm::Error", "[tensor]") {
  CHECK_THROWS_AS(Tensor::empty({2, -1}), Error);
  CHECK_THROWS_AS(Tensor::from_vector<float>({1.f, 2.f, 3.f}, {2, 2}), Error);
  CHECK_THROWS_AS(Tensor::zeros({2}, DType::kBF16), Error);
  CHECK_THROWS_AS(Tensor::zeros({2}).to(DType::kF16), Error);
}

TEST_CASE("dtype conversion converts values into a new tensor", "[tensor]") {
  const Tensor f = Tensor::from_vector<float>({1.5f, -2.75f, 3.9f, -0.5f}, {2, 2});
  const Tensor d = f.to(DType::kF64);
  CHECK(d.dtype() == DType::kF64);
  CHECK(d.shape() == f.shape());
  CHECK(d.to_vector<double>() == std::vector<double>{1.5, -2.75, double(3.9f), -0.5});
  // Float to int truncates toward zero, as static_cast and torch's .to(int32) do.
  CHECK(f.to(DType::kI32).to_vector<int32_t>() == std::vector<int32_t>{1, -2, 3, 0});
  const Tensor i = Tensor::from_vector<int32_t>({-7, 0, 123456}, {3});
  CHECK(i.to(DType::kF32).to_vector<float>() == std::vector<float>{-7.f, 0.f, 123456.f});
  // f64 -> f32 rounds to nearest.
  const Tensor precise = Tensor::from_vector<double>({0.1, 1.0 + 1e-12}, {2});
  CHECK(precise.to(DType::kF32).to_vector<float>() == std::vector<float>{0.1f, 1.0f});

  // Converting to the same dtype is still a copy: writes do not reach the source.
  const Tensor same = f.to(DType::kF32);
  CHECK(same.raw_data() != f.raw_data());
  same.data<float>()[0] = 100.f;
  CHECK(f.data<float>()[0] == 1.5f);

  // to_vector<T> of another dtype converts on the way out.
  CHECK(i.to_vector<double>() == std::vector<double>{-7.0, 0.0, 123456.0});
}

TEST_CASE("copies of a Tensor alias; clone copies; detach shares storage", "[tensor]") {
  Tensor a = Tensor::from_vector<float>({1.f, 2.f, 3.f}, {3});
  a.set_requires_grad(true);

  const Tensor alias = a;
  alias.data<float>()[0] = 10.f;
  CHECK(a.data<float>()[0] == 10.f);
  CHECK(alias.requires_grad());

  const Tensor detached = a.detach();
  CHECK(detached.raw_data() == a.raw_data());
  CHECK(!detached.requires_grad());
  CHECK(detached.is_leaf());
  detached.data<float>()[1] = 20.f;
  CHECK(a.data<float>()[1] == 20.f);
  CHECK(a.requires_grad());  // detaching does not change the source

  const Tensor cloned = a.clone();
  CHECK(cloned.raw_data() != a.raw_data());
  CHECK(!cloned.requires_grad());
  CHECK(cloned.to_vector<float>() == a.to_vector<float>());
  cloned.data<float>()[2] = 30.f;
  CHECK(a.data<float>()[2] == 3.f);
  CHECK(cloned.dtype() == a.dtype());
  CHECK(cloned.shape() == a.shape());
}

TEST_CASE("reshape is a view: -1 is inferred and storage is shared", "[tensor]") {
  std::vector<float> values(24);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const Tensor x = Tensor::from_vector<float>(values, {2, 3, 4});

  const Tensor y = x.reshape({4, -1});
  CHECK(y.shape() == Shape{4, 6});
  CHECK(y.raw_data() == x.raw_data());
  CHECK(y.to_vector<float>() == values);
  CHECK(x.reshape({-1}).shape() == Shape{24});
  CHECK(x.reshape({-1, 2, 3}).shape() == Shape{4, 2, 3});
  CHECK(x.reshape({2, 3, 4, 1}).shape() == Shape{2, 3, 4, 1});
  CHECK(Tensor::full({1}, 3.0).reshape({}).shape() == Shape{});

  y.data<float>()[5] = -1.f;
  CHECK(x.data<float>()[5] == -1.f);
  CHECK(x.shape() == Shape{2, 3, 4});  // the source keeps its shape

  CHECK_THROWS_AS(x.reshape({5, 5}), Error);
  CHECK_THROWS_AS(x.reshape({5, -1}), Error);   // 24 is not a multiple of 5
  CHECK_THROWS_AS(x.reshape({-1, -1}), Error);  // ambiguous
  CHECK_THROWS_AS(x.reshape({-2, 12}), Error);
}

TEST_CASE("item() returns the single value, as double, of any dtype", "[tensor]") {
  CHECK(Tensor::full({}, 2.5).item() == 2.5);
  CHECK(Tensor::full({1, 1}, -3.0, DType::kF64).item() == -3.0);
  CHECK(Tensor::from_vector<int32_t>({42}, {1}).item() == 42.0);
  CHECK(Tensor::from_vector<double>({0.1}, {1}).item() == 0.1);  // no detour through float
  CHECK_THROWS_AS(Tensor::zeros({2}).item(), Error);
  CHECK_THROWS_AS(Tensor::zeros({0}).item(), Error);
}

TEST_CASE("set_requires_grad marks floating leaves only", "[tensor]") {
  Tensor x = Tensor::zeros({2});
  CHECK(!x.requires_grad());
  CHECK(x.is_leaf());
  x.set_requires_grad(true);
  CHECK(x.requires_grad());
  x.set_requires_grad(false);
  CHECK(!x.requires_grad());
  Tensor i = Tensor::zeros({2}, DType::kI32);
  CHECK_THROWS_AS(i.set_requires_grad(true), Error);
  CHECK(!x.grad().defined());
}

TEST_CASE("data pointers are 64-byte aligned for every size and dtype", "[tensor]") {
  std::vector<Tensor> keep;  // all alive at once, so each gets its own block
  for (int64_t n : {1, 3, 15, 16, 17, 63, 64, 65, 1000, 4097, 300000})
    for (DType dtype : {DType::kF32, DType::kF64, DType::kI32}) {
      keep.push_back(Tensor::empty({n}, dtype));
      INFO("numel " << n << " " << dtype_name(dtype));
      CHECK(aligned64(keep.back()));
    }
  CHECK(aligned64(Tensor::zeros({0})));
  CHECK(aligned64(Tensor::full({}, 1.0)));
  CHECK(aligned64(keep[3].clone()));
  CHECK(aligned64(keep[5].to(DType::kF64)));
}

TEST_CASE("the caching allocator reuses freed blocks and tracks bytes in use", "[tensor]") {
  Allocator& allocator = allocator_for(Device::cpu());
  allocator.release_cached();  // start from an empty cache so every hit below is ours
  // An odd size so that no other live tensor competes for its size class.
  const Shape shape = {3, 7, 331};  // 6951 floats = 27804 bytes, size class 32 KiB
  const int64_t block = 32768;
  const AllocatorStats s0 = cpu_stats();
  CHECK(s0.bytes_cached == 0);
  void* first_block = nullptr;
  {
    const Tensor t = Tensor::empty(shape);
    first_block = t.raw_data();
    const AllocatorStats s1 = cpu_stats();
    CHECK(s1.allocations == s0.allocations + 1);
    CHECK(s1.cache_hits == s0.cache_hits);
    CHECK(s1.bytes_in_use == s0.bytes_in_use + block);
    CHECK(s1.peak_bytes_in_use >= s1.bytes_in_use);
  }
  const AllocatorStats s2 = cpu_stats();
  CHECK(s2.bytes_in_use == s0.bytes_in_use);
  CHECK(s2.bytes_cached == block);

  const Tensor again = Tensor::empty(shape);
  const AllocatorStats s3 = cpu_stats();
  CHECK(s3.cache_hits == s2.cache_hits + 1);
  CHECK(s3.bytes_cached == 0);
  CHECK(again.raw_data() == first_block);  // the block just freed, not a new one

  // While `again` holds the only cached block, a same-class request must go to the system.
  {
    const Tensor t = Tensor::empty({7000});  // 28000 bytes, same 32 KiB class
    CHECK(cpu_stats().cache_hits == s3.cache_hits);
    CHECK(t.raw_data() != again.raw_data());
  }
  // Once freed, a different size of the same class is served from the cache.
  const int64_t hits = cpu_stats().cache_hits;
  { const Tensor t = Tensor::empty({8000}); }  // 32000 bytes
  CHECK(cpu_stats().cache_hits == hits + 1);

  allocator.release_cached();
  CHECK(cpu_stats().bytes_cached == 0);
  CHECK(cpu_stats().bytes_in_use == s3.bytes_in_use);
  again.data<float>()[6950] = 1.f;  // live blocks are untouched by release_cached (ASan)
}

TEST_CASE("detached and reshaped views keep the storage alive", "[tensor]") {
  const int64_t before = cpu_stats().bytes_in_use;
  Tensor view;
  {
    const Tensor x = Tensor::full({5, 1021}, 1.5);
    view = x.reshape({-1}).detach();
  }
  CHECK(cpu_stats().bytes_in_use > before);
  CHECK(view.data<float>()[5 * 1021 - 1] == 1.5f);
  view = Tensor();
  CHECK(cpu_stats().bytes_in_use == before);
}

}  // namespace
}  // namespace ldm::test
