// The CUDA device of core/: one GPU per process (the first --device cuda:N used), one compute
// stream that every kernel and copy goes on, and a caching allocator over cudaMalloc. Built only
// with nvcc present (LDM_HAVE_CUDA); nothing here names a CUDA type, so core/ compiles without
// the toolkit's headers everywhere else.
#pragma once

#include <cstddef>
#include <string>

#include "core/allocator.h"

namespace ldm::cuda_runtime {

// Empty when GPU `index` is usable; otherwise why not, in the CUDA runtime's words.
std::string unavailable_reason(int index);

// The compute stream (a cudaStream_t) of GPU `index`, created on first use; the first call picks
// the process's GPU and a later call with another index fails with ldm::Error.
void* stream(int index);

// The stream chosen by stream(); a broken invariant (LDM_CHECK) before that. Tensors exist on
// the GPU before any kernel runs on them, so the allocator has chosen it by then.
void* compute_stream();

// Copies on the compute stream; a copy to the host waits for it (so the host can read the data).
void copy(void* dst, bool dst_is_host, const void* src, bool src_is_host, size_t bytes);
void zero(void* dst, size_t bytes);
void synchronize();

// Blocks are reused in stream order: every kernel runs on the one compute stream, so a block
// freed by the host can serve the next request at once; work queued before the free is ordered
// before any later use.
Allocator& allocator(int index);

}  // namespace ldm::cuda_runtime
