// Batching by gathering rows: a batch is a fresh [B, 1, H, W] copy, so the training step may
// keep or modify it while the dataset stays untouched.
#include "data/batcher.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "core/rng.h"

namespace ldm::data {
namespace {

// Philox stream ids for shuffling live in a range of their own ("DA7A" in the high word), so
// they never coincide with the streams that weight init, noise or dropout draw from.
constexpr uint64_t kShuffleStreamBase = uint64_t{0xDA7A} << 32;

}  // namespace

Batcher::Batcher(ImageDataset dataset, int64_t batch_size, uint64_t seed, Shuffle shuffle,
                 DropLast drop_last)
    : dataset_(std::move(dataset)),
      batch_size_(batch_size),
      seed_(seed),
      shuffle_(shuffle),
      drop_last_(drop_last) {
  if (dataset_.size() == 0 || !dataset_.images.defined()) fail("cannot batch an empty dataset");
  if (dataset_.images.rank() != 4 || dataset_.images.dim(0) != dataset_.size())
    fail("batcher: images ", dataset_.images.description(), " do not match ", dataset_.size(),
         " labels");
  if (batch_size < 1) fail("batch size must be at least 1, not ", batch_size);
  if (drop_last == DropLast::kYes && dataset_.size() < batch_size)
    fail("batch size ", batch_size, " is larger than the dataset (", dataset_.size(),
         " images), and incomplete batches are dropped: no batch would remain");
}

int64_t Batcher::batches_per_epoch() const {
  const int64_t n = dataset_.size();
  return drop_last_ == DropLast::kYes ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

std::vector<int64_t> Batcher::epoch_order(int64_t epoch) const {
  if (epoch < 0) fail("epoch must be >= 0, not ", epoch);
  const int64_t n = dataset_.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle_ == Shuffle::kNo) return order;
  const uint64_t stream = kShuffleStreamBase + static_cast<uint64_t>(epoch);
  // Fisher-Yates from the back: draw k uniform in [0, i] with 53-bit uniforms, whose bias
  // for any dataset size here (< 2^32) is far below anything measurable.
  for (int64_t i = n - 1; i > 0; --i) {
    const double u = uniform01(seed_, stream, static_cast<uint64_t>(n - 1 - i));
    const auto k = std::min<int64_t>(i, static_cast<int64_t>(u * static_cast<double>(i + 1)));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(k)]);
  }
  return order;
}

const std::vector<int64_t>& Batcher::order_of(int64_t epoch) const {
  if (epoch != cached_epoch_) {
    cached_order_ = epoch_order(epoch);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

Batch Batcher::batch(int64_t epoch, int64_t index) const {
  if (index < 0 || index >= batches_per_epoch())
    fail("batch ", index, " does not exist (", batches_per_epoch(), " batches per epoch)");
  const std::vector<int64_t>& order = order_of(epoch);
  const int64_t n = dataset_.size();
  const int64_t start = index * batch_size_;
  const int64_t B = std::min(batch_size_, n - start);
  const Shape& s = dataset_.images.shape();
  const int64_t row = s[1] * s[2] * s[3];

  Batch out;
  out.epoch = epoch;
  out.index = index;
  out.images = Tensor::empty({B, s[1], s[2], s[3]}, dataset_.images.dtype(), Device::cpu());
  out.labels = Tensor::empty({B}, DType::kI32, Device::cpu());
  const size_t row_bytes = static_cast<size_t>(row) * dtype_size(dataset_.images.dtype());
  const auto* src = static_cast<const uint8_t*>(dataset_.images.raw_data());
  auto* dst = static_cast<uint8_t*>(out.images.raw_data());
  int32_t* labels = out.labels.data<int32_t>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = order[static_cast<size_t>(start + b)];
    std::memcpy(dst + static_cast<size_t>(b) * row_bytes, src + static_cast<size_t>(i) * row_bytes,
                row_bytes);
    labels[b] = dataset_.labels[static_cast<size_t>(i)];
  }
  return out;
}

Batch Batcher::next() {
  Batch out = batch(epoch_, index_);
  if (++index_ == batches_per_epoch()) {
    index_ = 0;
    ++epoch_;
  }
  return out;
}

void Batcher::seek(int64_t epoch, int64_t index) {
  if (epoch < 0 || index < 0 || index >= batches_per_epoch())
    fail("cannot seek to epoch ", epoch, " batch ", index, " (", batches_per_epoch(),
         " batches per epoch)");
  epoch_ = epoch;
  index_ = index;
}

}  // namespace ldm::data
