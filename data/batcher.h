// Seeded shuffling and batching. The order of an epoch is a pure function of (seed, epoch,
// dataset size): it does not depend on the batch size, on how many batches were drawn before,
// or on any other use of the RNG, so a run resumed from a checkpoint (epoch, next batch) sees
// exactly the batches it would have seen.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace ldm::data {

enum class Shuffle { kNo, kYes };
enum class DropLast { kNo, kYes };

struct Batch {
  Tensor images;  // [B, 1, H, W] f32
  Tensor labels;  // [B] i32
  int64_t epoch = 0;
  int64_t index = 0;  // batch number within the epoch
};

class Batcher {
 public:
  // The dataset's tensors are shared, not copied. Errors: an empty dataset, batch_size < 1,
  // or DropLast::kYes with fewer images than one batch.
  Batcher(ImageDataset dataset, int64_t batch_size, uint64_t seed, Shuffle shuffle = Shuffle::kYes,
          DropLast drop_last = DropLast::kNo);

  int64_t batches_per_epoch() const;
  int64_t batch_size() const { return batch_size_; }
  const ImageDataset& dataset() const { return dataset_; }

  // The dataset indices of epoch `epoch` in the order they are served: a Fisher-Yates
  // shuffle driven by Philox (core/rng.h) on a stream of its own per epoch.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Batch `index` of epoch `epoch`, without moving the cursor.
  Batch batch(int64_t epoch, int64_t index) const;

  // The batch at the cursor; moves the cursor on, into the next epoch after the last batch.
  Batch next();
  int64_t epoch() const { return epoch_; }
  int64_t index() const { return index_; }
  // Moves the cursor, e.g. to the position stored in a checkpoint.
  void seek(int64_t epoch, int64_t index);

 private:
  const std::vector<int64_t>& order_of(int64_t epoch) const;

  ImageDataset dataset_;
  int64_t batch_size_;
  uint64_t seed_;
  Shuffle shuffle_;
  DropLast drop_last_;
  int64_t epoch_ = 0, index_ = 0;
  mutable int64_t cached_epoch_ = -1;  // epoch_order() of the epoch being served
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace ldm::data
