// mxgemm quantization contract (../shared/FORMAT.md §2-3) as __host__ __device__ functions.
//
// One definition of every rule, shared by the GPU epilogues, the standalone quantizers and the CPU reference, so
// that "fused == unfused == reference" holds byte for byte by construction. Everything here is plain integer /
// IEEE-754 float arithmetic; nothing may be compiled with flush-to-zero (the multiplier 2^-127 is an FP32
// subnormal, see e8m0_multiplier).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MXGEMM_HD __host__ __device__ __forceinline__
#else
#define MXGEMM_HD inline
#endif

namespace mxgemm::rules {

inline constexpr float kE4M3Max = 448.0f;
inline constexpr int kMxGroup = 32;    // mxfp8: one e8m0 scale per 32 consecutive elements of a row
inline constexpr int kG128Group = 128; // g128_*: one FP32 scale per 128 consecutive elements of a row

MXGEMM_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
#endif
}

MXGEMM_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, 4);
  return x;
#endif
}

// fmaxf-reduction step of |x|: NaN never enters (fmaxf returns the non-NaN operand), so an all-NaN group has
// amax 0. Start the reduction from 0.0f.
MXGEMM_HD float amax_step(float amax, float x) {
#if defined(__CUDA_ARCH__)
  return fmaxf(amax, fabsf(x));
#else
  const float a = bits_float(float_bits(x) & 0x7fffffffu);
  if (a != a) return amax;  // NaN element
  return a > amax ? a : amax;
#endif
}

// fl(1/448) in FP32, round-to-nearest (the constant RCEIL multiplies by; not a division).
inline constexpr float kInv448 = 1.0f / 448.0f;

// RCEIL: the e8m0 byte of s = amax * fl(1/448), rounded up (FORMAT.md §3). amax >= 0 and never NaN.
// Written as selects, not early returns: in the GEMM epilogue the branches became divergent-branch code.
MXGEMM_HD uint8_t e8m0_rceil(float amax) {
  const float s = amax * kInv448;
  const uint32_t bits = float_bits(s);
  const uint32_t exp = (bits >> 23) & 0xffu;
  const uint32_t mant = bits & 0x7fffffu;
  // normal s: round the exponent up when s is not a power of two, at most 254 (2^127); amax = +Inf (exp 0xff) -> 254
  const uint32_t up = exp + (mant != 0u ? 1u : 0u);
  const uint32_t normal = up < 254u ? up : 254u;
  // subnormal s: 2^-127 is mantissa 0x400000 (bits 0x00400000); anything above rounds up to 2^-126 (byte 1)
  const uint32_t subnormal = mant > 0x400000u ? 1u : 0u;
  return static_cast<uint8_t>(exp == 0u ? subnormal : normal);
}

// FLOOR (OCP MX v1.0): biased exponent of amax - 8, clamped to [0, 254]; Inf -> 0xFF (NaN scale).
MXGEMM_HD uint8_t e8m0_floor(float amax) {
  const uint32_t exp = (float_bits(amax) >> 23) & 0xffu;
  const uint32_t floor = exp > 8u ? exp - 8u : 0u;  // exp <= 8 covers amax = 0 and subnormal amax
  return static_cast<uint8_t>(exp == 0xffu ? 0xffu : floor);
}

// The exact multiplier 2^(127 - byte) built from bits. byte 254 -> 2^-127 (FP32 subnormal 0x00400000);
// byte 255 (FLOOR's NaN scale) -> NaN, so every element of that group converts to 0x7F.
MXGEMM_HD float e8m0_multiplier(uint8_t byte) {
  const uint32_t normal = static_cast<uint32_t>(254u - byte) << 23;
  return bits_float(byte == 0xffu ? 0x7fc00000u : (byte == 254u ? 0x00400000u : normal));
}

// The value an e8m0 byte encodes, 2^(byte - 127), as FP32. byte 0 -> 2^-127 (subnormal); 0xFF -> NaN.
MXGEMM_HD float e8m0_value(uint8_t byte) {
  if (byte == 0xffu) return bits_float(0x7fc00000u);
  if (byte == 0u) return bits_float(0x00400000u);
  return bits_float(static_cast<uint32_t>(byte) << 23);
}

// Software e4m3 ("fn") conversion with RNE and satfinite: |x| >= 448 (464 ties to 448) and +-Inf -> +-448,
// NaN -> 0x7F, e4m3 subnormals down to 2^-9. Bit-identical to cvt.rn.satfinite.e4m3x2.f32.
MXGEMM_HD uint8_t e4m3_satfinite(float x) {
  const uint32_t bits = float_bits(x);
  const uint32_t sign = (bits >> 24) & 0x80u;
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return 0x7f;                  // NaN
  if (abs_bits >= 0x43e00000u) return static_cast<uint8_t>(sign | 0x7eu);  // >= 448, Inf: saturate
  const int exp = static_cast<int>(abs_bits >> 23);
  if (exp == 0) return static_cast<uint8_t>(sign);          // FP32 subnormal: far below 2^-10
  const int e = exp - 127;                                  // unbiased exponent of |x|
  const uint32_t mant = (abs_bits & 0x7fffffu) | 0x800000u; // 24-bit significand
  const int lsb_exp = (e > -6 ? e : -6) - 3;                // exponent of one e4m3 ulp at this magnitude
  const int shift = 23 + lsb_exp - e;                       // >= 20
  if (shift >= 25) return static_cast<uint8_t>(sign);       // below half of the smallest subnormal
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  // Normal range: q in [8, 16]; q == 16 carries into the exponent field by plain addition.
  const uint32_t code = (e >= -6) ? (static_cast<uint32_t>(e + 7) << 3) + (q - 8u) : q;
  return static_cast<uint8_t>(sign | (code > 0x7eu ? 0x7eu : code));
}

// e4m3 byte -> FP32 value (exact). 0x7F/0xFF -> NaN.
MXGEMM_HD float e4m3_to_float(uint8_t v) {
  const uint32_t sign = (v & 0x80u) ? 0x80000000u : 0u;
  const uint32_t e = (v >> 3) & 0xfu, m = v & 7u;
  if (e == 15u && m == 7u) return bits_float(0x7fc00000u);
  if (e == 0u) {  // subnormal: m * 2^-9
    const float mag = static_cast<float>(m) * bits_float(0x3b000000u);  // 2^-9
    return bits_float(float_bits(mag) | sign);
  }
  return bits_float(sign | ((e + 120u) << 23) | (m << 20));
}

// g128_fp32: s = amax / 448 (IEEE RN), r = 1 / s (RN). amax = 0 -> s = 1, r = 1. amax = Inf -> s = Inf, r = 0.
struct G128Fp32Scale {
  float scale;       // what is stored
  float reciprocal;  // what elements are multiplied by
};
MXGEMM_HD G128Fp32Scale g128_fp32_scale(float amax) {
  if (amax == 0.0f) return {1.0f, 1.0f};
#if defined(__CUDA_ARCH__)
  const float s = __fdiv_rn(amax, kE4M3Max);
  return {s, __frcp_rn(s)};
#else
  const float s = amax / kE4M3Max;
  return {s, 1.0f / s};
#endif
}

// bf16 round-to-nearest-even from FP32 (NaN stays a quiet NaN).
MXGEMM_HD uint16_t bf16_rn(float x) {
  const uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

MXGEMM_HD float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

// blocked128x4 scale layout (FORMAT.md §2): byte offset of scale (row r, scale column c) for a matrix with
// `cols` scale columns. The buffer holds pad(rows,128) * pad(cols,4) bytes.
MXGEMM_HD int64_t blocked128x4_offset(int64_t r, int64_t c, int64_t cols) {
  const int64_t padded_cols = (cols + 3) / 4 * 4;
  const int64_t tile = (r / 128) * (padded_cols / 4) + (c / 4);
  const int64_t rr = r % 128;
  return tile * 512 + (rr % 32) * 16 + (rr / 32) * 4 + (c % 4);
}

}  // namespace mxgemm::rules
