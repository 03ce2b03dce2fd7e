// PTX wrappers: warpgroup MMA control (fence / commit / wait) and shared-memory matrix descriptors. No logic.
#pragma once
#include <cstdint>

#include "ptx/wgmma_fp8.cuh"

namespace mxgemm::ptx {

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit_group() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait_group() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

// Keeps the compiler from moving accesses of an accumulator register across wgmma issue/wait points.
__device__ __forceinline__ void fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// 64-bit wgmma shared-memory matrix descriptor: K-major operand, 128-byte swizzle (rows of 128 bytes, 8-row
// atoms of 1024 bytes: stride byte offset 1024). The leading byte offset is unused for this layout.
__device__ __forceinline__ uint64_t wgmma_desc_kmajor_sw128(const void* smem_ptr) {
  const uint64_t addr = static_cast<uint64_t>(__cvta_generic_to_shared(smem_ptr));
  uint64_t desc = 0;
  desc |= (addr & 0x3ffffull) >> 4;          // start address, bits 0-13
  desc |= uint64_t(1) << 16;                 // leading byte offset (unused): 1
  desc |= uint64_t(1024 >> 4) << 32;         // stride byte offset: 1024 B between 8-row groups
  desc |= uint64_t(1) << 62;                 // swizzle mode: 128B
  return desc;
}

// The descriptor of the same operand `bytes` further into shared memory (a multiple of 16; shared addresses stay
// below 256 KB, so the 14-bit start-address field cannot carry into the next field): built once, advanced by an add.
// The add is done on the low 32 bits alone: a 64-bit add compiles to an add-with-carry pair per descriptor.
__device__ __forceinline__ uint64_t wgmma_desc_advance(uint64_t desc, uint32_t bytes) {
  const uint32_t lo = static_cast<uint32_t>(desc) + (bytes >> 4);
  return (desc & 0xffffffff00000000ull) | lo;
}

}  // namespace mxgemm::ptx
