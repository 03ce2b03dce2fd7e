// CPU reference (include/mxgemm/reference.h): the oracle every GPU test compares against. Quantization uses only
// the rule functions of format_rules.h, the same ones the kernels use, so "reference == kernel" is byte-exact by
// construction; the GEMMs are FP64 over the dequantized inputs (FORMAT.md §1).

#include "mxgemm/reference.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mxgemm/format_rules.h"

namespace mxgemm::reference {
namespace {

constexpr int64_t kScaleBlock = 128;  // K block of SFA/SFB, N block of SFB

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t or_default(int64_t value, int64_t default_value) { return value == 0 ? default_value : value; }

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::kInvalidArgument, "reference::" + what); }

// e4m3 byte -> double through a 256-entry table built from rules::e4m3_to_float (exact in double).
const double* e4m3_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(256);
    for (int code = 0; code < 256; ++code) t[code] = rules::e4m3_to_float(static_cast<uint8_t>(code));
    return t;
  }();
  return table.data();
}

// D rows [0, M) of one dense NT problem into d (row stride N).
//
// Why the inner loop is exact: every e4m3 value is m * 2^e with a 4-bit m, so a product of two lies on the grid
// 2^-18 and below 2^18, and a sum of 128 such products needs < 53 bits: each K block's sum of raw products is
// exact in double in any order. The block sum is then scaled by sfa * sfb (the product of two floats is exact in
// double) and accumulated: one rounding per block, the FP64 result of FORMAT.md §1. Exactness lets the inner
// loop use four independent accumulators, which is what makes it fast.
//
// Tiles of kRowTile x kColTile keep the dequantized A and B rows in cache and bound the memory (the bench calls
// this with N*K of 7168*7168).
void gemm_nt_into(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const float* sfa, int64_t ldsfa,
                  const uint8_t* b, int64_t ldb, const float* sfb, double* d) {
  constexpr int64_t kRowTile = 32, kColTile = 32;
  const double* lut = e4m3_table();
  const int64_t k_blocks = ceil_div(K, kScaleBlock);
  std::vector<double> a_tile(kRowTile * K), b_tile(kColTile * K);
  std::vector<double> a_scales(kRowTile * k_blocks);
  for (int64_t m0 = 0; m0 < M; m0 += kRowTile) {
    const int64_t rows = std::min(kRowTile, M - m0);
    for (int64_t i = 0; i < rows; ++i) {
      const uint8_t* row = a + (m0 + i) * lda;
      for (int64_t k = 0; k < K; ++k) a_tile[i * K + k] = lut[row[k]];
      for (int64_t kb = 0; kb < k_blocks; ++kb) a_scales[i * k_blocks + kb] = sfa[kb * ldsfa + m0 + i];
    }
    for (int64_t n0 = 0; n0 < N; n0 += kColTile) {
      const int64_t cols = std::min(kColTile, N - n0);
      for (int64_t j = 0; j < cols; ++j) {
        const uint8_t* row = b + (n0 + j) * ldb;
        for (int64_t k = 0; k < K; ++k) b_tile[j * K + k] = lut[row[k]];
      }
      for (int64_t i = 0; i < rows; ++i) {
        const double* ar = a_tile.data() + i * K;
        for (int64_t j = 0; j < cols; ++j) {
          const double* br = b_tile.data() + j * K;
          const float* sfb_row = sfb + ((n0 + j) / kScaleBlock) * k_blocks;
          double acc = 0.0;
          for (int64_t kb = 0; kb < k_blocks; ++kb) {
            const int64_t k_begin = kb * kScaleBlock, k_end = std::min(K, k_begin + kScaleBlock);
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            int64_t k = k_begin;
            for (; k + 4 <= k_end; k += 4) {
              s0 += ar[k] * br[k];
              s1 += ar[k + 1] * br[k + 1];
              s2 += ar[k + 2] * br[k + 2];
              s3 += ar[k + 3] * br[k + 3];
            }
            for (; k < k_end; ++k) s0 += ar[k] * br[k];
            const double block_sum = (s0 + s1) + (s2 + s3);
            acc += block_sum * (static_cast<double>(a_scales[i * k_blocks + kb]) * static_cast<double>(sfb_row[kb]));
          }
          d[(m0 + i) * N + n0 + j] = acc;
        }
      }
    }
  }
}

void check_shape(const char* fn, int64_t M, int64_t N, int64_t K) {
  if (M < 0 || N < 0 || K < 0) {
    fail(std::string(fn) + ": M=" + std::to_string(M) + ", N=" + std::to_string(N) + ", K=" + std::to_string(K) +
         ": must be >= 0");
  }
}

void check_pointer(const char* fn, const char* name, const void* p) {
  if (p == nullptr) fail(std::string(fn) + ": " + name + "=nullptr: must not be null");
}

// Quantize one group x[0..count) of a row: returns the group's scale and writes the e4m3 bytes to q.
struct GroupScale {
  uint8_t byte = 0;   // e8m0 byte (mxfp8, g128_ue8m0)
  float value = 0;    // FP32 scale as stored (g128_*)
};

GroupScale quantize_group(const float* x, int64_t count, OutFormat format, ScaleRule rule, uint8_t* q) {
  float amax = 0.0f;
  for (int64_t i = 0; i < count; ++i) amax = rules::amax_step(amax, x[i]);
  GroupScale scale;
  if (format == OutFormat::kG128FP32) {
    const rules::G128Fp32Scale s = rules::g128_fp32_scale(amax);
    scale.value = s.scale;
    for (int64_t i = 0; i < count; ++i) q[i] = rules::e4m3_satfinite(x[i] * s.reciprocal);
    return scale;
  }
  // mxfp8 with its rule; g128_ue8m0 is always RCEIL (FORMAT.md §3).
  const bool floor_rule = format == OutFormat::kMXFP8 && rule == ScaleRule::kFLOOR;
  scale.byte = floor_rule ? rules::e8m0_floor(amax) : rules::e8m0_rceil(amax);
  scale.value = rules::e8m0_value(scale.byte);
  const float multiplier = rules::e8m0_multiplier(scale.byte);
  for (int64_t i = 0; i < count; ++i) q[i] = rules::e4m3_satfinite(x[i] * multiplier);
  return scale;
}

void check_output_spec(const char* fn, const OutputSpec& out, int64_t cols) {
  const int format = static_cast<int>(out.format);
  if (format < 1 || format > 3) {
    fail(std::string(fn) + ": out.format=" + std::to_string(format) + ": must be mxfp8, g128_fp32 or g128_ue8m0");
  }
  check_pointer(fn, "out.data", out.data);
  check_pointer(fn, "out.scales", out.scales);
  if (out.ld != 0 && out.ld < cols) {
    fail(std::string(fn) + ": out.ld=" + std::to_string(out.ld) + ": must be >= cols=" + std::to_string(cols));
  }
}

}  // namespace

std::vector<double> gemm_nt(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const float* sfa,
                            int64_t ldsfa, const uint8_t* b, int64_t ldb, const float* sfb) {
  check_shape("gemm_nt", M, N, K);
  std::vector<double> d(static_cast<size_t>(M * N), 0.0);
  if (M == 0 || N == 0 || K == 0) return d;
  check_pointer("gemm_nt", "a", a);
  check_pointer("gemm_nt", "b", b);
  check_pointer("gemm_nt", "sfa", sfa);
  check_pointer("gemm_nt", "sfb", sfb);
  gemm_nt_into(M, N, K, a, or_default(lda, K), sfa, or_default(ldsfa, mn_major_ld(M)), b, or_default(ldb, K), sfb,
               d.data());
  return d;
}

std::vector<double> grouped_contiguous_gemm_nt(int64_t G, int64_t M, int64_t N, int64_t K, const uint8_t* a,
                                               const float* sfa, int64_t ldsfa, const uint8_t* b,
                                               const float* sfb, const int32_t* layout) {
  check_shape("grouped_contiguous_gemm_nt", M, N, K);
  std::vector<double> d(static_cast<size_t>(M * N), 0.0);  // padding rows (and groups >= G) stay 0
  if (M == 0 || N == 0 || K == 0) return d;
  check_pointer("grouped_contiguous_gemm_nt", "layout", layout);
  ldsfa = or_default(ldsfa, mn_major_ld(M));
  const int64_t k_blocks = ceil_div(K, kScaleBlock);
  const int64_t sfb_per_group = ceil_div(N, kScaleBlock) * k_blocks;
  // Runs of consecutive rows of the same group are one dense problem: A, SFA and D offset by the run's first row.
  for (int64_t begin = 0; begin < M;) {
    const int32_t group = layout[begin];
    int64_t end = begin + 1;
    while (end < M && layout[end] == group) ++end;
    if (group >= 0 && group < G) {
      gemm_nt_into(end - begin, N, K, a + begin * K, K, sfa + begin, ldsfa, b + group * N * K, K,
                   sfb + group * sfb_per_group, d.data() + begin * N);
    }
    begin = end;
  }
  return d;
}

std::vector<double> grouped_masked_gemm_nt(int64_t G, int64_t max_m, int64_t N, int64_t K, const uint8_t* a,
                                           const float* sfa, const uint8_t* b, const float* sfb,
                                           const int32_t* masked_m) {
  check_shape("grouped_masked_gemm_nt", max_m, N, K);
  std::vector<double> d(static_cast<size_t>(G * max_m * N), std::numeric_limits<double>::quiet_NaN());
  if (G == 0 || max_m == 0 || N == 0) return d;
  check_pointer("grouped_masked_gemm_nt", "masked_m", masked_m);
  const int64_t k_blocks = ceil_div(K, kScaleBlock);
  const int64_t ldsfa = mn_major_ld(max_m);
  for (int64_t g = 0; g < G; ++g) {
    // masked_m outside [0, max_m] is a caller bug; clamp so the oracle never reads out of bounds.
    const int64_t rows = std::clamp<int64_t>(masked_m[g], 0, max_m);
    double* dg = d.data() + g * max_m * N;
    if (K == 0) {
      std::fill(dg, dg + rows * N, 0.0);
      continue;
    }
    gemm_nt_into(rows, N, K, a + g * max_m * K, K, sfa + g * k_blocks * ldsfa, ldsfa, b + g * N * K, K,
                 sfb + g * ceil_div(N, kScaleBlock) * k_blocks, dg);
  }
  return d;
}

void quantize(const float* x, int64_t rows, int64_t cols, int64_t ldx, const OutputSpec& out) {
  check_shape("quantize", rows, cols, 0);
  check_output_spec("quantize", out, cols);
  if (rows == 0 || cols == 0) return;
  check_pointer("quantize", "x", x);
  ldx = or_default(ldx, cols);
  const int64_t ld = or_default(out.ld, cols);
  auto* q = static_cast<uint8_t*>(out.data);
  const int group = group_size(out.format);
  const int64_t groups_per_row = ceil_div(cols, group);

  auto* scale_bytes = static_cast<uint8_t*>(out.scales);
  auto* scale_floats = static_cast<float*>(out.scales);
  const bool blocked = out.format == OutFormat::kMXFP8 && out.layout == ScaleLayout::kBlocked128x4;
  if (blocked) {  // padding of the 128x4 tiles is written as zero bytes
    std::memset(scale_bytes, 0, static_cast<size_t>(scale_elements(out.format, out.layout, rows, cols)));
  }
  const int64_t g128_ld = mn_major_ld(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const int64_t c0 = g * group, count = std::min<int64_t>(group, cols - c0);
      const GroupScale s = quantize_group(x + r * ldx + c0, count, out.format, out.rule, q + r * ld + c0);
      if (out.format == OutFormat::kMXFP8) {
        scale_bytes[blocked ? rules::blocked128x4_offset(r, g, groups_per_row) : r * groups_per_row + g] = s.byte;
      } else {
        scale_floats[g * g128_ld + r] = s.value;
      }
    }
  }
}

void to_bf16(const float* x, int64_t rows, int64_t cols, int64_t ldx, uint16_t* out, int64_t ldo) {
  check_shape("to_bf16", rows, cols, 0);
  if (rows == 0 || cols == 0) return;
  check_pointer("to_bf16", "x", x);
  check_pointer("to_bf16", "out", out);
  ldx = or_default(ldx, cols);
  ldo = or_default(ldo, cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[r * ldo + c] = rules::bf16_rn(x[r * ldx + c]);
  }
}

std::vector<float> dequantize(int64_t rows, int64_t cols, const OutputSpec& out) {
  check_shape("dequantize", rows, cols, 0);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  if (rows == 0 || cols == 0) return x;
  const int64_t ld = or_default(out.ld, cols);
  if (out.format == OutFormat::kBF16) {
    check_pointer("dequantize", "out.data", out.data);
    const auto* data = static_cast<const uint16_t*>(out.data);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) x[r * cols + c] = rules::bf16_to_float(data[r * ld + c]);
    }
    return x;
  }
  check_output_spec("dequantize", out, cols);
  const auto* q = static_cast<const uint8_t*>(out.data);
  const auto* scale_bytes = static_cast<const uint8_t*>(out.scales);
  const auto* scale_floats = static_cast<const float*>(out.scales);
  const int group = group_size(out.format);
  const int64_t groups_per_row = ceil_div(cols, group);
  const bool blocked = out.format == OutFormat::kMXFP8 && out.layout == ScaleLayout::kBlocked128x4;
  const int64_t g128_ld = mn_major_ld(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t g = c / group;
      float scale;
      if (out.format == OutFormat::kMXFP8) {
        scale = rules::e8m0_value(
            scale_bytes[blocked ? rules::blocked128x4_offset(r, g, groups_per_row) : r * groups_per_row + g]);
      } else {
        scale = scale_floats[g * g128_ld + r];
      }
      // One rounding: the double product of an e4m3 value and an FP32 scale is exact.
      x[r * cols + c] = static_cast<float>(static_cast<double>(rules::e4m3_to_float(q[r * ld + c])) * scale);
    }
  }
  return x;
}

std::vector<float> sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src) {
  check_shape("sfa_to_mn_major", M, kblocks, 0);
  const int64_t ld_dst = mn_major_ld(M);
  std::vector<float> dst(static_cast<size_t>(kblocks * ld_dst), 0.0f);  // padding rows zeroed
  if (M == 0 || kblocks == 0) return dst;
  check_pointer("sfa_to_mn_major", "src", src);
  ld_src = or_default(ld_src, kblocks);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t kb = 0; kb < kblocks; ++kb) dst[kb * ld_dst + m] = src[m * ld_src + kb];
  }
  return dst;
}

}  // namespace mxgemm::reference
