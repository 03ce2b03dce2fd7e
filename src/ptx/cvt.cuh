// PTX wrappers: conversions. No logic beyond the instruction.
#pragma once
#include <cstdint>

namespace mxgemm::ptx {

// Two FP32 -> two e4m3 (RNE, satfinite: |x| > 448 and +-Inf -> +-448, NaN -> 0x7F), packed as 16 bits with
// `lo` in the low byte (the PTX form puts its first source operand in the upper byte).
__device__ __forceinline__ uint16_t cvt_e4m3x2_satfinite(float lo, float hi) {
  uint16_t packed;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(packed) : "f"(hi), "f"(lo));
  return packed;
}

// Four FP32 -> four e4m3 bytes in a 32-bit word, v0 in the lowest byte.
__device__ __forceinline__ uint32_t cvt_e4m3x4_satfinite(float v0, float v1, float v2, float v3) {
  const uint32_t lo = cvt_e4m3x2_satfinite(v0, v1);
  const uint32_t hi = cvt_e4m3x2_satfinite(v2, v3);
  return lo | (hi << 16);
}

}  // namespace mxgemm::ptx
