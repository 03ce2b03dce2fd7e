// PTX wrappers used by the standalone quantizers (beyond src/ptx/cvt.cuh). No logic beyond the instruction.
#pragma once
#include <cstdint>

namespace mxgemm::ptx {

// 16-byte global load through the non-coherent path, L1-allocating (neighbouring lanes' 16-byte halves of one
// 32-byte sector are then served from L1), with a 256-byte L2 prefetch hint for streaming reads.
__device__ __forceinline__ uint4 ld_global_nc_v4(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// 16-byte global store.
__device__ __forceinline__ void st_global_v4(void* p, uint4 v) {
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
               : "memory");
}

}  // namespace mxgemm::ptx
