// mxgemm CPU reference: the oracle of every GPU test, also offered to users for their own tests.
//
// GEMMs are FP64 over the dequantized inputs (FORMAT.md §1). Quantizers take FP32 input (what the fused epilogue
// sees: the FP32 accumulator, or a bf16/FP32 tensor for the standalone quantizer) and implement FORMAT.md §2-3
// with the same rule functions the kernels use (format_rules.h). All pointers here are host pointers.
#pragma once

#include <cstdint>
#include <vector>

#include "mxgemm/mxgemm.h"

namespace mxgemm::reference {

// D[M,N] (FP64, row-major, dense) = (A*SFA) . (B*SFB)^T. Strides/layouts as in GemmNTArgs (0 = default).
std::vector<double> gemm_nt(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const float* sfa,
                            int64_t ldsfa, const uint8_t* b, int64_t ldb, const float* sfb);

// M-grouped contiguous: rows whose layout[m] is -1 (or >= G, treated as padding) give 0.
std::vector<double> grouped_contiguous_gemm_nt(int64_t G, int64_t M, int64_t N, int64_t K, const uint8_t* a,
                                               const float* sfa, int64_t ldsfa, const uint8_t* b,
                                               const float* sfb, const int32_t* layout);

// M-grouped masked: D [G, max_m, N]; rows >= masked_m[g] are left as NaN (they are "not written").
std::vector<double> grouped_masked_gemm_nt(int64_t G, int64_t max_m, int64_t N, int64_t K, const uint8_t* a,
                                           const float* sfa, const uint8_t* b, const float* sfb,
                                           const int32_t* masked_m);

// Quantize FP32 x [rows, cols] (row stride ldx) into out (format != bf16), exactly as FORMAT.md §2-3:
// out.data: e4m3 bytes [rows, ld]; out.scales: e8m0 bytes (compact / blocked128x4, padding bytes written 0) or
// FP32 MN-major [ceil(cols/128), pad(rows,4)] (padding rows not written).
void quantize(const float* x, int64_t rows, int64_t cols, int64_t ldx, const OutputSpec& out);

// bf16 output: round-to-nearest-even of the FP32 value.
void to_bf16(const float* x, int64_t rows, int64_t cols, int64_t ldx, uint16_t* out, int64_t ldo);

// Dequantize a quantized output back to FP32 (for relative-error checks).
std::vector<float> dequantize(int64_t rows, int64_t cols, const OutputSpec& out);

// Row-major [M, kblocks] scales -> MN-major [kblocks, pad(M,4)] (padding zeroed).
std::vector<float> sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src);

}  // namespace mxgemm::reference
