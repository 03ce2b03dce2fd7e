// PTX wrappers: thread-block clusters (rank, cluster-wide barrier, remote mbarrier arrive). No logic.
#pragma once
#include <cstdint>

#include "ptx/mbarrier.cuh"

namespace mxgemm::ptx {

__device__ __forceinline__ uint32_t cluster_cta_rank() {
  uint32_t rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  return rank;
}

// All threads of all CTAs of the cluster (release/acquire: shared-memory state before it is visible after it).
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// Arrive on the mbarrier at the same shared-memory offset as `bar`, in the CTA of rank `cta_rank`.
__device__ __forceinline__ void mbarrier_arrive_cluster(uint64_t* bar, uint32_t cta_rank) {
  asm volatile(
      "{\n"
      ".reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      // Default (release, CTA scope) semantics: the consumer only read shared memory. `.release.cluster` here
      // made the 128x128x2 GEMM 3x slower (measured: 364 us vs 124 us at 4096x7168x2048).
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n"
      "}\n" ::"r"(smem_addr(bar)),
      "r"(cta_rank)
      : "memory");
}

// The shared::cluster address of `local_addr`'s counterpart in the CTA of rank `cta_rank`.
__device__ __forceinline__ uint32_t mapa_shared(uint32_t local_addr, uint32_t cta_rank) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local_addr), "r"(cta_rank));
  return remote;
}

// 16 bytes into another CTA's shared memory, completing 16 bytes of transaction count on the mbarrier `remote_bar`
// of that CTA (both shared::cluster addresses).
__device__ __forceinline__ void st_async_v4(uint32_t remote_addr, float x, float y, float z, float w,
                                            uint32_t remote_bar) {
  asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v4.b32 [%0], {%1, %2, %3, %4}, [%5];" ::"r"(
                   remote_addr),
               "r"(__float_as_uint(x)), "r"(__float_as_uint(y)), "r"(__float_as_uint(z)), "r"(__float_as_uint(w)),
               "r"(remote_bar)
               : "memory");
}

// Arrive on the mbarrier at `bar`'s offset in the CTA of rank `cta_rank`, releasing this thread's prior memory
// accesses at cluster scope (the waiter in the other CTA may then overwrite what this CTA read).
__device__ __forceinline__ void mbarrier_arrive_release_cluster(uint64_t* bar, uint32_t cta_rank) {
  asm volatile(
      "{\n"
      ".reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.release.cluster.shared::cluster.b64 _, [remote];\n"
      "}\n" ::"r"(smem_addr(bar)),
      "r"(cta_rank)
      : "memory");
}

// Waits for the phase with parity `phase_parity` of a barrier that another CTA of the cluster arrives on, acquiring
// at cluster scope.
__device__ __forceinline__ void mbarrier_wait_acquire_cluster(uint64_t* bar, uint32_t phase_parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n"
      "}\n" ::"r"(smem_addr(bar)),
      "r"(phase_parity)
      : "memory");
}

}  // namespace mxgemm::ptx
