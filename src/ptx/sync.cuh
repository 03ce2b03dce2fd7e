// PTX wrappers: fences, named barriers, register reallocation. No logic.
#pragma once
#include <cstdint>

namespace mxgemm::ptx {

// Generic-proxy writes to shared memory (st.shared) become visible to the async proxy (TMA store, wgmma).
__device__ __forceinline__ void fence_proxy_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// Named barrier `id` (1..15; 0 is __syncthreads) over `num_threads` threads (a multiple of 32).
__device__ __forceinline__ void named_barrier_sync(uint32_t id, uint32_t num_threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(num_threads) : "memory");
}

// Programmatic dependent launch (PDL). Both are no-ops unless the grid was launched with
// cudaLaunchAttributeProgrammaticStreamSerialization: wait blocks until the previous grid in the stream has completed
// and its memory is visible; launch_dependents lets the next grid be scheduled before this one completes.
__device__ __forceinline__ void griddepcontrol_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void griddepcontrol_launch_dependents() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

template <uint32_t kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegs));
}
template <uint32_t kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegs));
}

}  // namespace mxgemm::ptx
