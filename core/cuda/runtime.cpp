// The CUDA device: GPU selection, the compute stream, copies and the caching allocator.
#include "core/cuda/runtime.h"

#include <cuda_runtime.h>

#include <mutex>

#include "core/check.h"

// Every CUDA call is checked: a failure is a broken invariant (or a GPU fault), reported with
// file:line and the runtime's own words.
#define LDM_CUDA_CHECK(call)                                                         \
  do {                                                                               \
    const cudaError_t ldm_status_ = (call);                                          \
    LDM_CHECK(ldm_status_ == cudaSuccess, #call, " failed: ",                        \
              cudaGetErrorName(ldm_status_), " (", cudaGetErrorString(ldm_status_), ")"); \
  } while (0)

namespace ldm::cuda_runtime {
namespace {

std::mutex g_mutex;
int g_device = -1;  // the process's GPU, once chosen
cudaStream_t g_stream = nullptr;

cudaStream_t current_stream() { return static_cast<cudaStream_t>(compute_stream()); }

// cudaMalloc under the shared cache (core/allocator.h).
class CudaCachingAllocator final : public CachingAllocator {
 private:
  void* allocate_block(size_t bytes) override {
    void* block = nullptr;
    if (cudaMalloc(&block, bytes) == cudaSuccess) return block;
    (void)cudaGetLastError();  // out of memory is not sticky: clear it, let the cache retry
    return nullptr;
  }
  void free_block(void* block) override { LDM_CUDA_CHECK(cudaFree(block)); }
  // Cached blocks may still be read by queued kernels: wait for them first.
  void before_release() override { LDM_CUDA_CHECK(cudaStreamSynchronize(current_stream())); }
  void out_of_memory(size_t bytes, int64_t bytes_in_use) override {
    fail("out of GPU memory: ", bytes, " more bytes needed with ", bytes_in_use,
         " in use; try a smaller batch size");
  }
};

}  // namespace

std::string unavailable_reason(int index) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    const std::string words = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    (void)cudaGetLastError();
    if (status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice)
      return "no NVIDIA driver or GPU on this machine (the CUDA runtime says: " + words + ")";
    return "the CUDA runtime cannot start (" + words + ")";
  }
  if (count == 0) return "the CUDA runtime finds no device";
  if (index < 0 || index >= count)
    return "there is no GPU " + std::to_string(index) + " (this machine has " +
           std::to_string(count) + ")";
  return "";
}

void* stream(int index) {
  std::lock_guard lock(g_mutex);
  if (g_device < 0) {
    const std::string reason = unavailable_reason(index);
    if (!reason.empty()) fail("device cuda:", index, ": ", reason);
    LDM_CUDA_CHECK(cudaSetDevice(index));
    LDM_CUDA_CHECK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    g_device = index;
  } else if (index != g_device) {
    fail("device cuda:", index, ": this process already runs on cuda:", g_device,
         " (one GPU per process)");
  }
  return g_stream;
}

void* compute_stream() {
  LDM_CHECK(g_stream != nullptr, "CUDA used before a device was chosen");
  return g_stream;
}

void copy(void* dst, bool dst_is_host, const void* src, bool src_is_host, size_t bytes) {
  const cudaMemcpyKind kind = dst_is_host ? (src_is_host ? cudaMemcpyHostToHost
                                                         : cudaMemcpyDeviceToHost)
                                          : (src_is_host ? cudaMemcpyHostToDevice
                                                         : cudaMemcpyDeviceToDevice);
  LDM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, current_stream()));
  // The host reads dst right after (device -> host), or may free or reuse src (host -> device,
  // from pageable memory): either way wait.
  if (dst_is_host || src_is_host) LDM_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

void zero(void* dst, size_t bytes) {
  LDM_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, current_stream()));
}

void synchronize() {
  if (g_stream != nullptr) LDM_CUDA_CHECK(cudaStreamSynchronize(g_stream));
}

Allocator& allocator(int index) {
  (void)stream(index);  // picks the GPU (or fails saying why there is none) before any cudaMalloc
  // Leaked on purpose, as the CPU allocator: tensors in static storage may outlive it.
  static auto* instance = new CudaCachingAllocator();
  return *instance;
}

}  // namespace ldm::cuda_runtime
