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

}  // namespace mxgemm::ptx
