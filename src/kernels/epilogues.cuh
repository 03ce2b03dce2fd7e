// Epilogue policies of the SM90 FP8 GEMM: FP32 accumulators -> output bytes in a swizzled shared-memory tile
// (written to global by the kernel with TMA stores) + scales to global memory.
//
// A policy is a small type the kernel is templated on:
//   kOutBytes              bytes per output element (2 for bf16, 1 for e4m3)
//   supports_block_n(BN)   which tile widths it can quantize (a scale group must lie inside one tile)
//   apply<BN>(acc, ctx)    one thread's part of a 64 x BN warpgroup tile: output bytes into shared memory; returns
//                          the thread's scales, which the kernel stores (pending.store(ctx)) only after it has
//                          issued the tile's TMA store: global stores ahead of the proxy fence made the fence wait
//                          for them, once per tile
// Every rule comes from include/mxgemm/format_rules.h, the same code the CPU reference runs.
//
// wgmma m64nN accumulator layout (per warpgroup): warp w owns rows 16w..16w+15; lane l holds rows
// r0 = 16w + l/4 and r1 = r0 + 8; acc[4i+0..1] = (r0, cols 8i + 2(l%4) + {0,1}), acc[4i+2..3] = (r1, same cols).
// So a 32-column group [32g, 32g+32) of a row lives in the 4 lanes of a quad (i = 4g..4g+3), 8 values each.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/gemm_params.h"
#include "mxgemm/format_rules.h"
#include "mxgemm/mxgemm.h"
#include "ptx/cvt.cuh"
#include "ptx/smem.cuh"

namespace mxgemm::kernels {

// Shared-memory image of one warpgroup's 64-row output tile, in the layout the TMA store expects: rows of
// kRowBytes are cut into boxes of at most 128 bytes; each box is [64 rows][kBoxBytes] with the hardware swizzle of
// its width (XOR of the 16-byte chunk index with address bits 7..), which makes the quad-strided writes below
// bank-conflict free.
template <int kRowBytes>
struct OutTileLayout {
  static constexpr int kBoxBytes = kRowBytes < 128 ? kRowBytes : 128;
  static constexpr int kNumBoxes = kRowBytes / kBoxBytes;
  static constexpr int kBoxSmemBytes = kMathWarpgroupRows * kBoxBytes;
  static constexpr int kTileSmemBytes = kNumBoxes * kBoxSmemBytes;
  static_assert(kBoxBytes == 32 || kBoxBytes == 64 || kBoxBytes == 128, "TMA swizzle widths");
  static_assert(kRowBytes % kBoxBytes == 0, "row must be whole boxes");

  // Byte b of row r lives at (b / kBoxBytes) * kBoxSmemBytes + r * kBoxBytes + ((c ^ X(r)) << 4) + b % 16, with
  // c = (b % kBoxBytes) / 16 its 16-byte chunk and X(r) = ((r * kBoxBytes) >> 7) & (kChunks - 1).
  //
  // One thread's two rows of the tile, r0 and r0 + 8: the shared-memory address of every 16-byte chunk of r0's box
  // row, with the thread's byte offset inside the chunk folded in. The swizzle XOR depends on the row alone (and
  // r0 + 8 has the same XOR), so kChunks adds per tile replace the per-store swizzle arithmetic (which cost 3-4
  // integer instructions per store); each store then adds only a compile-time immediate.
  static constexpr int kChunks = kBoxBytes / 16;
  struct ThreadRows {
    uint32_t chunk[kChunks];
    __device__ __forceinline__ ThreadRows(uint32_t tile_smem, int row0, int lane_byte) {
      const int x = ((row0 * kBoxBytes) >> 7) & (kChunks - 1);
      const uint32_t base = tile_smem + static_cast<uint32_t>(row0 * kBoxBytes + lane_byte);
#pragma unroll
      for (int c = 0; c < kChunks; ++c) chunk[c] = base + static_cast<uint32_t>((c ^ x) << 4);
    }
    // `byte`: the row offset of the thread's data without its lane offset (a constant after unrolling); the lane
    // offset must stay inside the 16-byte chunk that `byte` starts.
    __device__ __forceinline__ uint32_t addr(int byte, bool second_row) const {
      return chunk[(byte % kBoxBytes) / 16] + static_cast<uint32_t>((byte / kBoxBytes) * kBoxSmemBytes + byte % 16 +
                                                                    (second_row ? 8 * kBoxBytes : 0));
    }
  };
};

// What one thread knows about where its accumulators go.
struct EpilogueThreadCtx {
  uint32_t smem_tile;  // shared-window address of this warpgroup's 64 x BN output tile (OutTileLayout)
  int row_local0;      // r0 inside the warpgroup tile; r1 = r0 + 8
  int quad_lane;       // lane % 4: which 2-column pair of each 8-column chunk this thread holds
  int64_t row0;        // global row of r0
  int n0;              // global column of the tile's first column
  const GemmParams* params;
};

namespace detail {

__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

// Quantizes the 32-column group g32 of both rows with per-row multipliers into the output tile: each lane stores
// its e4m3 pair of every 8-column chunk (2 bytes; the quad's 4 lanes fill the chunk's 8 contiguous bytes).
template <int kBlockN>
__device__ __forceinline__ void quantize_store_group32(const float (&acc)[kBlockN / 2], int g32, float mult0,
                                                       float mult1,
                                                       const typename OutTileLayout<kBlockN>::ThreadRows& rows) {
#pragma unroll
  for (int ii = 0; ii < 4; ++ii) {
    const int i = 4 * g32 + ii;
    ptx::st_shared_b16(rows.addr(8 * i, false),
                       ptx::cvt_e4m3x2_satfinite(acc[4 * i + 0] * mult0, acc[4 * i + 1] * mult0));
    ptx::st_shared_b16(rows.addr(8 * i, true),
                       ptx::cvt_e4m3x2_satfinite(acc[4 * i + 2] * mult1, acc[4 * i + 3] * mult1));
  }
}

// This lane's part of a group's amax for rows r0 / r1: chunks first_i .. first_i + num_i - 1.
template <int kBlockN>
__device__ __forceinline__ void lane_amax(const float (&acc)[kBlockN / 2], int first_i, int num_i, float& amax0,
                                          float& amax1) {
  amax0 = 0.0f;
  amax1 = 0.0f;
#pragma unroll
  for (int i = first_i; i < first_i + num_i; ++i) {
    amax0 = rules::amax_step(rules::amax_step(amax0, acc[4 * i + 0]), acc[4 * i + 1]);
    amax1 = rules::amax_step(rules::amax_step(amax1, acc[4 * i + 2]), acc[4 * i + 3]);
  }
}

template <int kBlockN>
__device__ __forceinline__ void group_amax(const float (&acc)[kBlockN / 2], int first_i, int num_i, float& amax0,
                                           float& amax1) {
  lane_amax<kBlockN>(acc, first_i, num_i, amax0, amax1);
  amax0 = quad_max(amax0);
  amax1 = quad_max(amax1);
}

// Quad reduce-scatter of four per-lane partial maxima (one per 32-column group of a 128-column block): afterwards
// lane q of the quad holds the full amax of group q. Two butterfly steps of 2 and 1 shuffles (each lane sends the
// groups its partner keeps) instead of a full quad_max per group (8 shuffles): every lane then computes one scale
// instead of the same four (the scale rule is ~20 integer instructions, and ran 4x redundantly).
__device__ __forceinline__ float quad_reduce_scatter4(const float (&partial)[4], int quad_lane) {
  const bool b = (quad_lane & 1) != 0, c = (quad_lane & 2) != 0;
  // step 1 (lanes q, q ^ 1): keep groups b and 2 + b, send the partner's two
  const float keep0 = b ? partial[1] : partial[0], keep1 = b ? partial[3] : partial[2];
  const float send0 = b ? partial[0] : partial[1], send1 = b ? partial[2] : partial[3];
  const float m0 = fmaxf(keep0, __shfl_xor_sync(0xffffffffu, send0, 1));  // group b
  const float m1 = fmaxf(keep1, __shfl_xor_sync(0xffffffffu, send1, 1));  // group 2 + b
  // step 2 (lanes q, q ^ 2): keep group b + 2c
  const float keep = c ? m1 : m0, send = c ? m0 : m1;
  return fmaxf(keep, __shfl_xor_sync(0xffffffffu, send, 2));
}

// The quantized epilogues' common loop: for each group of kGroupCols columns of the thread's two rows, the group's
// amax (reduced over the quad), then `scales(g, amax0, amax1, mult0, mult1)` (the format's rule: records the scales
// to store, returns the multipliers), then the group's e4m3 bytes into the output tile.
template <int kBlockN, int kGroupCols, class GroupScales>
__device__ __forceinline__ void quantize_groups(const float (&acc)[kBlockN / 2],
                                                const typename OutTileLayout<kBlockN>::ThreadRows& rows,
                                                GroupScales&& scales) {
  static_assert(kGroupCols % 32 == 0 && kBlockN % kGroupCols == 0, "whole groups of whole 32-column blocks");
  constexpr int kChunksPerGroup = kGroupCols / 8;  // a thread holds 2 columns of each 8-column chunk
#pragma unroll
  for (int g = 0; g < kBlockN / kGroupCols; ++g) {
    float amax0, amax1;
    group_amax<kBlockN>(acc, kChunksPerGroup * g, kChunksPerGroup, amax0, amax1);
    float mult0, mult1;
    scales(g, amax0, amax1, mult0, mult1);
#pragma unroll
    for (int g32 = g * (kGroupCols / 32); g32 < (g + 1) * (kGroupCols / 32); ++g32)
      quantize_store_group32<kBlockN>(acc, g32, mult0, mult1, rows);
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// bf16 out: the unfused baseline.
struct EpilogueBF16 {
  static constexpr int kOutBytes = 2;
  static constexpr bool kBlockedScales = false;
  static constexpr bool supports_block_n(int) { return true; }

  struct Pending {
    __device__ __forceinline__ void store(const EpilogueThreadCtx&) const {}
  };

  template <int kBlockN>
  __device__ __forceinline__ static Pending apply(const float (&acc)[kBlockN / 2], const EpilogueThreadCtx& ctx) {
    using Layout = OutTileLayout<kBlockN * 2>;
    // Lane q holds columns 8i + 2q, +1 of chunk i: 4 bytes at 16i + 4q.
    const typename Layout::ThreadRows rows(ctx.smem_tile, ctx.row_local0, 4 * ctx.quad_lane);
#pragma unroll
    for (int i = 0; i < kBlockN / 8; ++i) {
      const __nv_bfloat162 p0 = __floats2bfloat162_rn(acc[4 * i + 0], acc[4 * i + 1]);
      const __nv_bfloat162 p1 = __floats2bfloat162_rn(acc[4 * i + 2], acc[4 * i + 3]);
      ptx::st_shared_b32(rows.addr(16 * i, false), *reinterpret_cast<const uint32_t*>(&p0));
      ptx::st_shared_b32(rows.addr(16 * i, true), *reinterpret_cast<const uint32_t*>(&p1));
    }
    return {};
  }
};

// ---------------------------------------------------------------------------------------------------------------
// mxfp8: e4m3 + one e8m0 byte per 32 elements of a row, rule RCEIL or FLOOR, compact or blocked128x4 scales.
template <ScaleRule kRule, ScaleLayout kLayout>
struct EpilogueMXFP8 {
  static constexpr int kOutBytes = 1;
  static constexpr bool kBlockedScales = kLayout == ScaleLayout::kBlocked128x4;
  static constexpr bool supports_block_n(int bn) { return bn % 32 == 0; }

  __device__ __forceinline__ static uint8_t scale_byte(float amax) {
    return kRule == ScaleRule::kRCEIL ? rules::e8m0_rceil(amax) : rules::e8m0_floor(amax);
  }

  // Writes scale (row, col) if it is inside the buffer; inside the blocked layout's padding it writes 0.
  __device__ __forceinline__ static void store_scale(const GemmParams& p, int64_t row, int64_t col, uint8_t byte) {
    auto* scales = static_cast<uint8_t*>(p.out_scales);
    const bool valid = row < p.M && col < p.scale_cols;
    if constexpr (kLayout == ScaleLayout::kCompact) {
      if (valid) scales[row * p.scale_cols + col] = byte;
    } else {
      const int64_t padded_rows = (static_cast<int64_t>(p.M) + 127) / 128 * 128;
      const int64_t padded_cols = (p.scale_cols + 3) / 4 * 4;
      if (row < padded_rows && col < padded_cols)
        scales[rules::blocked128x4_offset(row, col, p.scale_cols)] = valid ? byte : uint8_t{0};
    }
  }

  // The scale bytes of this thread's rows r0 / r1 for every 32-column group of the tile (after the quad reduction
  // every lane of a quad holds all of them).
  //
  // Stores: 4 scale bytes (128 columns) of a row are contiguous and 4-byte aligned in blocked128x4 (one row of a
  // 128x4 block) and in compact when scale_cols % 4 == 0, so quad lane 0 writes row r0 and lane 1 row r1 as one
  // 32-bit word each. Byte-wise stores (4x the instructions, each touching its own sector) measured 9 us of a 131 us
  // 4096x7168x2048 GEMM; they remain the fallback for BLOCK_N = 64 and unaligned compact rows.
  //
  // BLOCK_N % 128 == 0: apply() leaves quad lane 0 row r0's word and lane 1 row r1's word of every 128-column block
  // (gathered from the quad after the reduce-scatter, see apply).
  template <int kBlockN, bool kWords = kBlockN % 128 == 0>
  struct Pending {
    uint8_t byte0[kWords ? 1 : kBlockN / 32], byte1[kWords ? 1 : kBlockN / 32];  // BLOCK_N = 64
    uint32_t words[kWords ? kBlockN / 128 : 1];                                  // BLOCK_N % 128 == 0

    __device__ __forceinline__ void store(const EpilogueThreadCtx& ctx) const {
      const GemmParams& p = *ctx.params;
      if constexpr (kWords) {
        if (ctx.quad_lane >= 2) return;
        const bool second = ctx.quad_lane == 1;
        const int64_t row = ctx.row0 + (second ? 8 : 0);
        auto* scales = static_cast<uint8_t*>(p.out_scales);
#pragma unroll
        for (int w = 0; w < kBlockN / 128; ++w) {
          const int64_t c0 = ctx.n0 / 32 + 4 * w;
          uint32_t word = words[w];
          // Bytes of columns >= scale_cols and of rows >= M are the blocked layout's zero padding.
          const int64_t valid_cols = p.scale_cols - c0;
          if (valid_cols < 4) word &= valid_cols <= 0 ? 0u : (1u << (8 * valid_cols)) - 1u;
          if (row >= p.M) word = 0;
          if constexpr (kLayout == ScaleLayout::kCompact) {
            if (row >= p.M) continue;
            if (p.scale_cols % 4 == 0 && c0 + 4 <= p.scale_cols) {
              *reinterpret_cast<uint32_t*>(scales + row * p.scale_cols + c0) = word;
            } else {
              for (int i = 0; i < 4; ++i)
                if (c0 + i < p.scale_cols) scales[row * p.scale_cols + c0 + i] = static_cast<uint8_t>(word >> (8 * i));
            }
          } else {
            const int64_t padded_rows = (static_cast<int64_t>(p.M) + 127) / 128 * 128;
            const int64_t padded_cols = (p.scale_cols + 3) / 4 * 4;
            if (row < padded_rows && c0 < padded_cols)
              *reinterpret_cast<uint32_t*>(scales + rules::blocked128x4_offset(row, c0, p.scale_cols)) = word;
          }
        }
      } else {
#pragma unroll
        for (int g = 0; g < kBlockN / 32; ++g) {
          if (ctx.quad_lane == g % 4) {  // the quad's 4 lanes write 4 neighbouring scale bytes of a row
            const int64_t col = ctx.n0 / 32 + g;
            store_scale(p, ctx.row0, col, byte0[g]);
            store_scale(p, ctx.row0 + 8, col, byte1[g]);
          }
        }
      }
    }
  };

  template <int kBlockN>
  __device__ __forceinline__ static Pending<kBlockN> apply(const float (&acc)[kBlockN / 2],
                                                           const EpilogueThreadCtx& ctx) {
    Pending<kBlockN> pending;
    const typename OutTileLayout<kBlockN>::ThreadRows rows(ctx.smem_tile, ctx.row_local0, 2 * ctx.quad_lane);
    if constexpr (kBlockN % 128 == 0) {
      // Per 128-column block (4 groups): the quad reduce-scatters the group maxima, so lane q computes the scale
      // bytes of group q for its two rows only; the multipliers and bytes are then gathered from the quad.
#pragma unroll
      for (int w = 0; w < kBlockN / 128; ++w) {
        float partial0[4], partial1[4];
#pragma unroll
        for (int g = 0; g < 4; ++g) detail::lane_amax<kBlockN>(acc, 4 * (4 * w + g), 4, partial0[g], partial1[g]);
        const uint32_t byte0 = scale_byte(detail::quad_reduce_scatter4(partial0, ctx.quad_lane));
        const uint32_t byte1 = scale_byte(detail::quad_reduce_scatter4(partial1, ctx.quad_lane));
        const float mult0 = rules::e8m0_multiplier(static_cast<uint8_t>(byte0));
        const float mult1 = rules::e8m0_multiplier(static_cast<uint8_t>(byte1));
        // Quad lane 0 keeps row r0's four bytes, lane 1 row r1's (bytes of group g from lane g).
        const uint32_t both = byte0 | (byte1 << 8);
        uint32_t word = 0;
#pragma unroll
        for (int g = 0; g < 4; ++g) {
          const uint32_t from_g = __shfl_sync(0xffffffffu, both, g, 4);
          word |= ((ctx.quad_lane & 1) ? (from_g >> 8) & 0xffu : from_g & 0xffu) << (8 * g);
        }
        pending.words[w] = word;
#pragma unroll
        for (int g = 0; g < 4; ++g) {
          detail::quantize_store_group32<kBlockN>(acc, 4 * w + g, __shfl_sync(0xffffffffu, mult0, g, 4),
                                                  __shfl_sync(0xffffffffu, mult1, g, 4), rows);
        }
      }
    } else {
      detail::quantize_groups<kBlockN, 32>(acc, rows, [&](int g, float amax0, float amax1, float& mult0, float& mult1) {
        pending.byte0[g] = scale_byte(amax0);
        pending.byte1[g] = scale_byte(amax1);
        mult0 = rules::e8m0_multiplier(pending.byte0[g]);
        mult1 = rules::e8m0_multiplier(pending.byte1[g]);
      });
    }
    return pending;
  }
};

// The blocked128x4 layout pads the scale matrix to [pad(M,128), pad(cols,4)] with zero bytes. Tiles narrower than
// that padding (BLOCK_M = 64 or BLOCK_N = 64) leave part of it uncovered: the last tile of each row / column of
// tiles writes those zeros, so every byte of the buffer is written by exactly one CTA.
template <int kBlockM, int kBlockN, int kNumThreads>
__device__ __forceinline__ void fill_blocked_scale_padding(const GemmParams& p, int m_block, int n_block, int tid) {
  const bool last_m = m_block == p.num_m_blocks - 1, last_n = n_block == p.num_n_blocks - 1;
  if (!last_m && !last_n) return;
  const int64_t padded_rows = (static_cast<int64_t>(p.M) + 127) / 128 * 128;
  const int64_t padded_cols = (p.scale_cols + 3) / 4 * 4;
  const int64_t m0 = static_cast<int64_t>(m_block) * kBlockM, m1 = m0 + kBlockM;
  const int64_t c0 = static_cast<int64_t>(n_block) * (kBlockN / 32), c1 = c0 + kBlockN / 32;
  const int64_t row_end = last_m ? padded_rows : m1;
  const int64_t col_end = last_n ? padded_cols : c1;
  auto* scales = static_cast<uint8_t*>(p.out_scales);
  // rows below the tile (all columns this tile row owns), then columns right of the tile (the tile's rows)
  const int64_t below = row_end > m1 ? (row_end - m1) * (col_end - c0) : 0;
  const int64_t right = col_end > c1 ? (m1 - m0) * (col_end - c1) : 0;
  for (int64_t idx = tid; idx < below + right; idx += kNumThreads) {
    int64_t r, c;
    if (idx < below) {
      r = m1 + idx / (col_end - c0);
      c = c0 + idx % (col_end - c0);
    } else {
      r = m0 + (idx - below) / (col_end - c1);
      c = c1 + (idx - below) % (col_end - c1);
    }
    if (r < padded_rows) scales[rules::blocked128x4_offset(r, c, p.scale_cols)] = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// g128_fp32 / g128_ue8m0: e4m3 + one FP32 scale per 128 elements of a row, MN-major (the next GEMM's SFA).
template <bool kPowerOfTwo>
struct EpilogueG128 {
  static constexpr int kOutBytes = 1;
  static constexpr bool kBlockedScales = false;
  static constexpr bool supports_block_n(int bn) { return bn % 128 == 0; }

  // This thread's FP32 scales of rows r0 / r1 for every 128-column group; quad lane 0 writes them.
  template <int kBlockN>
  struct Pending {
    float scale0[kBlockN / 128], scale1[kBlockN / 128];
    __device__ __forceinline__ void store(const EpilogueThreadCtx& ctx) const {
      const GemmParams& p = *ctx.params;
      if (ctx.quad_lane != 0) return;
      auto* scales = static_cast<float*>(p.out_scales);
#pragma unroll
      for (int g = 0; g < kBlockN / 128; ++g) {
        const int64_t col = ctx.n0 / 128 + g;
        if (col * 128 < p.N) {
          if (ctx.row0 < p.M) scales[col * p.scale_ld + ctx.row0] = scale0[g];
          if (ctx.row0 + 8 < p.M) scales[col * p.scale_ld + ctx.row0 + 8] = scale1[g];
        }
      }
    }
  };

  template <int kBlockN>
  __device__ __forceinline__ static Pending<kBlockN> apply(const float (&acc)[kBlockN / 2],
                                                           const EpilogueThreadCtx& ctx) {
    Pending<kBlockN> pending;
    const typename OutTileLayout<kBlockN>::ThreadRows rows(ctx.smem_tile, ctx.row_local0, 2 * ctx.quad_lane);
    detail::quantize_groups<kBlockN, 128>(acc, rows, [&](int g, float amax0, float amax1, float& mult0, float& mult1) {
      if constexpr (kPowerOfTwo) {
        const uint8_t b0 = rules::e8m0_rceil(amax0), b1 = rules::e8m0_rceil(amax1);
        pending.scale0[g] = rules::e8m0_value(b0);
        pending.scale1[g] = rules::e8m0_value(b1);
        mult0 = rules::e8m0_multiplier(b0);
        mult1 = rules::e8m0_multiplier(b1);
      } else {
        const rules::G128Fp32Scale s0 = rules::g128_fp32_scale(amax0), s1 = rules::g128_fp32_scale(amax1);
        pending.scale0[g] = s0.scale;
        pending.scale1[g] = s1.scale;
        mult0 = s0.reciprocal;
        mult1 = s1.reciprocal;
      }
    });
    return pending;
  }
};

using EpilogueG128FP32 = EpilogueG128<false>;
using EpilogueG128UE8M0 = EpilogueG128<true>;

}  // namespace mxgemm::kernels
