// Batching: every epoch serves each image exactly once, the order is a pure function of
// (seed, epoch), batches carry the right pixels and labels, and a resumed cursor continues
// exactly.
#include <numeric>
#include <set>

#include "core/rng.h"
#include "data/batcher.h"
#include "data_test_util.h"

namespace ldm::data::test {
namespace {

using Catch::Matchers::Contains;

// N images of 1 x 2 x 2 whose pixels all equal the image's index, labels index % 3.
ImageDataset indexed_dataset(int64_t N) {
  ImageDataset d;
  d.images = Tensor::empty({N, 1, 2, 2});
  for (int64_t i = 0; i < N; ++i)
    for (int k = 0; k < 4; ++k) d.images.data<float>()[i * 4 + k] = static_cast<float>(i);
  for (int64_t i = 0; i < N; ++i) d.labels.push_back(static_cast<int32_t>(i % 3));
  d.label_names = {"a", "b", "c"};
  return d;
}

// The image indices a batch holds, read back from its pixels.
std::vector<int64_t> indices_of(const Batch& b) {
  std::vector<int64_t> out;
  const float* p = b.images.data<float>();
  for (int64_t i = 0; i < b.images.dim(0); ++i) {
    out.push_back(static_cast<int64_t>(p[i * 4]));
    for (int k = 1; k < 4; ++k) CHECK(p[i * 4 + k] == p[i * 4]);
    CHECK(b.labels.data<int32_t>()[i] == out.back() % 3);
  }
  return out;
}

TEST_CASE("each epoch is a permutation served in batches of the right size", "[data_batching]") {
  Batcher batcher(indexed_dataset(10), 4, 7);
  CHECK(batcher.batches_per_epoch() == 3);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen;
    for (int64_t b = 0; b < 3; ++b) {
      CHECK(batcher.epoch() == epoch);
      CHECK(batcher.index() == b);
      const Batch batch = batcher.next();
      CHECK(batch.epoch == epoch);
      CHECK(batch.index == b);
      CHECK(batch.images.shape() == Shape{b < 2 ? 4 : 2, 1, 2, 2});
      CHECK(batch.labels.shape() == Shape{b < 2 ? 4 : 2});
      CHECK(batch.labels.dtype() == DType::kI32);
      const std::vector<int64_t> idx = indices_of(batch);
      seen.insert(seen.end(), idx.begin(), idx.end());
    }
    CHECK(seen == batcher.epoch_order(epoch));
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(10);
    std::iota(all.begin(), all.end(), 0);
    CHECK(seen == all);
  }
  CHECK(batcher.epoch() == 3);
}

TEST_CASE("drop_last drops the incomplete batch; no shuffle keeps file order", "[data_batching]") {
  Batcher dropping(indexed_dataset(10), 4, 7, Shuffle::kYes, DropLast::kYes);
  CHECK(dropping.batches_per_epoch() == 2);
  CHECK(dropping.next().images.dim(0) == 4);
  CHECK(dropping.next().images.dim(0) == 4);
  CHECK(dropping.epoch() == 1);

  Batcher ordered(indexed_dataset(5), 2, 7, Shuffle::kNo);
  CHECK(indices_of(ordered.next()) == std::vector<int64_t>{0, 1});
  CHECK(indices_of(ordered.next()) == std::vector<int64_t>{2, 3});
  CHECK(indices_of(ordered.next()) == std::vector<int64_t>{4});
  CHECK(indices_of(ordered.next()) == std::vector<int64_t>{0, 1});
}

TEST_CASE("the order depends on seed and epoch only", "[data_batching]") {
  const ImageDataset d = indexed_dataset(200);
  const Batcher a(d, 16, 1234), b(d, 50, 1234), c(d, 16, 1235);
  // Same seed, any batch size, any other RNG use in between: the same order.
  Rng unrelated{1234, 0, 0};
  (void)unrelated.normal({1000});
  CHECK(a.epoch_order(0) == b.epoch_order(0));
  CHECK(a.epoch_order(5) == b.epoch_order(5));
  // Another seed or another epoch: another order (the chance of a coincidence is 1/200!).
  CHECK(a.epoch_order(0) != c.epoch_order(0));
  CHECK(a.epoch_order(0) != a.epoch_order(1));
  std::vector<int64_t> identity(200);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(a.epoch_order(0) != identity);

  // Crude uniformity: over many epochs each image lands in the first slot about equally often.
  const Batcher small(indexed_dataset(4), 1, 99);
  std::vector<int> first(4, 0);
  for (int64_t e = 0; e < 4000; ++e) ++first[static_cast<size_t>(small.epoch_order(e)[0])];
  for (int count : first) CHECK(std::abs(count - 1000) < 150);  // > 5 sigma
}

TEST_CASE("seek resumes exactly where a run stopped", "[data_batching]") {
  const ImageDataset d = indexed_dataset(23);
  Batcher straight(d, 5, 42);
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 17; ++i) expected.push_back(indices_of(straight.next()));

  Batcher first_run(d, 5, 42);
  for (int i = 0; i < 8; ++i)
    CHECK(indices_of(first_run.next()) == expected[static_cast<size_t>(i)]);
  Batcher resumed(d, 5, 42);
  resumed.seek(first_run.epoch(), first_run.index());
  for (int i = 8; i < 17; ++i)
    CHECK(indices_of(resumed.next()) == expected[static_cast<size_t>(i)]);
  CHECK(indices_of(resumed.batch(0, 2)) == expected[2]);
}

TEST_CASE("batcher argument errors", "[data_batching]") {
  CHECK_THROWS_WITH(Batcher(ImageDataset{}, 4, 0), Contains("empty dataset"));
  CHECK_THROWS_WITH(Batcher(indexed_dataset(3), 0, 0), Contains("batch size must be at least 1"));
  CHECK_THROWS_WITH(Batcher(indexed_dataset(3), 4, 0, Shuffle::kYes, DropLast::kYes),
                    Contains("no batch would remain"));
  Batcher ok(indexed_dataset(3), 2, 0);
  CHECK_THROWS_WITH(ok.batch(0, 2), Contains("batch 2 does not exist"));
  CHECK_THROWS_WITH(ok.seek(-1, 0), Contains("cannot seek"));
  // A batch is a copy: changing it leaves the dataset alone.
  Batch b = ok.batch(0, 0);
  const float before = ok.dataset().images.data<float>()[0];
  b.images.data<float>()[0] = 1e6f;
  CHECK(ok.dataset().images.data<float>()[0] == before);
}

}  // namespace
}  // namespace ldm::data::test
