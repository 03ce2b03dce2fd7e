// Standalone quantizer kernels (issue 4): BF16 / FP32 [M, N] -> e4m3 + scales in every format of FORMAT.md §2,
// rowwise (groups along N) and columnwise (output = quantize(x^T), groups along M), plus the SFA row-major ->
// MN-major transform. Every rule comes from mxgemm/format_rules.h; the kernels only move bytes and call the rules.
//
// Structure (epilogue-like policies, no format if-chains in the hot loop):
//   input policy  InBF16 / InFP32          16-element chunks: raw 16-byte loads -> FP32 values
//   format policy MxFp8<Rule, Layout>,     kGroup, make(amax) -> {stored scale, element multiplier}, store(...)
//                 G128Fp32, G128Ue8m0
// Rowwise: one thread per 16 consecutive elements of a row (2 x / 4 x 16-byte loads, one 16-byte e4m3 store); a
//   group is 2 (mxfp8) or 8 (g128) neighbouring lanes, amax reduced with shfl_xor. A warp owns 512 consecutive
//   elements of one row per work item; kUnroll items are loaded before any is processed (bytes in flight); the
//   grid is persistent (SMs x occupancy), warps striding over items.
// Columnwise (FP32 input; BF16 with Tuning::stages = -1): 128 (M) x 64 (N) tiles through shared memory (FP32,
//   transposed, XOR-swizzled 16-byte chunks so that both the scalar transposing stores and the 16-byte reads are
//   conflict-free for bf16), the next tile's global loads issued before the current tile is quantized. Then one
//   thread per 16 consecutive output elements (= 16 consecutive m of one column n), exactly as rowwise.
// Columnwise BF16 (16-byte aligned rows, which validation requires): by default the TMA kernel
//   (quantize_colwise_tma_kernel: a bulk tensor load of a 128 x 64 tile into a 128-byte-swizzled shared tile, one
//   tile per block, TMA store of the e4m3 tile); Tuning::kernel selects its variant with thread stores (1) or the
//   earlier cp.async staged kernel (2, tiles 128x64 .. 256x128, measured on the H100 within +-2% of each other,
//   none >= 90% of copy). See bench/results/README.md for the measurements behind the default.
// blocked128x4 padding bytes (rows >= rows, columns >= scale cols) are written 0 by the same launch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/quantize_launch.h"
#include "kernels/quantize_ptx.cuh"
#include "mxgemm/format_rules.h"
#include "mxgemm/mxgemm.h"
#include "ptx/cvt.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/sync.cuh"
#include "ptx/tma.cuh"

namespace mxgemm::kernels::quant {

// ------------------------------------------------------------------------------------------------------------
// Input policies: a chunk of 16 consecutive elements as raw 32-bit words.
struct InBF16 {
  using T = uint16_t;
  static constexpr int kVecElems = 8;  // per 16-byte vector
  static constexpr int kWords = kChunk / 2;
  __device__ __forceinline__ static float get(const uint32_t (&w)[kWords], int j) {
    const uint32_t word = w[j / 2];
    return __uint_as_float((j & 1) ? (word & 0xffff0000u) : (word << 16));
  }
  __device__ __forceinline__ static float to_float(T v) { return __uint_as_float(static_cast<uint32_t>(v) << 16); }
  __device__ __forceinline__ static void set(uint32_t (&w)[kWords], int j, T v) {
    if (j & 1) w[j / 2] |= static_cast<uint32_t>(v) << 16;
    else w[j / 2] = v;
  }
};
struct InFP32 {
  using T = float;
  static constexpr int kVecElems = 4;
  static constexpr int kWords = kChunk;
  __device__ __forceinline__ static float get(const uint32_t (&w)[kWords], int j) { return __uint_as_float(w[j]); }
  __device__ __forceinline__ static float to_float(T v) { return v; }
  __device__ __forceinline__ static void set(uint32_t (&w)[kWords], int j, T v) { w[j] = __float_as_uint(v); }
};

// 16 consecutive elements starting at p, `valid` of them in bounds (<= 0: none). Out-of-bounds elements read as
// +0, which never changes an fmaxf amax that starts at 0.
template <class In>
__device__ __forceinline__ void load_chunk(uint32_t (&w)[In::kWords], const typename In::T* p, int64_t valid,
                                           bool vec_ok) {
  if (vec_ok && valid >= kChunk) {
#pragma unroll
    for (int i = 0; i < In::kWords / 4; ++i) {
      const uint4 v = ptx::ld_global_nc_v4(p + i * In::kVecElems);
      w[4 * i + 0] = v.x;
      w[4 * i + 1] = v.y;
      w[4 * i + 2] = v.z;
      w[4 * i + 3] = v.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < In::kWords; ++i) w[i] = 0u;
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      if (j < valid) In::set(w, j, p[j]);
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Format policies.
struct ScaleDst {
  void* p;
  int64_t ld;    // compact: bytes per scale row; MN-major: pad(rows, 4)
  int64_t cols;  // scale columns (blocked128x4 tiling)
};

template <ScaleRule kRule, ScaleLayout kLayout>
struct MxFp8 {
  static constexpr int kGroup = rules::kMxGroup;
  static constexpr bool kBlocked = kLayout == ScaleLayout::kBlocked128x4;
  static constexpr bool kByteScale = true;  // e8m0 bytes (else FP32 values, MN-major)
  struct Scale {
    uint8_t byte;
    float mult;
  };
  __device__ __forceinline__ static Scale make(float amax) {
    const uint8_t b = kRule == ScaleRule::kRCEIL ? rules::e8m0_rceil(amax) : rules::e8m0_floor(amax);
    return {b, rules::e8m0_multiplier(b)};
  }
  // Byte offset of the scale of (row, group).
  __device__ __forceinline__ static int64_t offset(const ScaleDst& d, int64_t row, int64_t group) {
    return kBlocked ? rules::blocked128x4_offset(row, group, d.cols) : row * d.ld + group;
  }
  __device__ __forceinline__ static void store(const ScaleDst& d, int64_t row, int64_t group, const Scale& s) {
    static_cast<uint8_t*>(d.p)[offset(d, row, group)] = s.byte;
  }
};

struct G128Fp32 {
  static constexpr int kGroup = rules::kG128Group;
  static constexpr bool kBlocked = false;
  static constexpr bool kByteScale = false;
  struct Scale {
    float value;
    float mult;
  };
  __device__ __forceinline__ static Scale make(float amax) {
    const rules::G128Fp32Scale s = rules::g128_fp32_scale(amax);
    return {s.scale, s.reciprocal};
  }
  __device__ __forceinline__ static void store(const ScaleDst& d, int64_t row, int64_t group, const Scale& s) {
    static_cast<float*>(d.p)[group * d.ld + row] = s.value;
  }
};

struct G128Ue8m0 {
  static constexpr int kGroup = rules::kG128Group;
  static constexpr bool kBlocked = false;
  static constexpr bool kByteScale = false;
  struct Scale {
    float value;
    float mult;
  };
  __device__ __forceinline__ static Scale make(float amax) {
    const uint8_t b = rules::e8m0_rceil(amax);
    return {rules::e8m0_value(b), rules::e8m0_multiplier(b)};
  }
  __device__ __forceinline__ static void store(const ScaleDst& d, int64_t row, int64_t group, const Scale& s) {
    static_cast<float*>(d.p)[group * d.ld + row] = s.value;
  }
};

// ------------------------------------------------------------------------------------------------------------
// Shared pieces.

// Quantize one chunk held as 16 FP32 values by a lane; the group spans kGroup/16 neighbouring lanes (all lanes of
// the warp call this together): the group's amax, its scale, and the 16 e4m3 bytes packed in element order.
template <class Pol>
struct QuantizedChunk {
  uint4 packed;
  typename Pol::Scale scale;
};
template <class Pol>
__device__ __forceinline__ QuantizedChunk<Pol> quantize16(const float (&v)[kChunk]) {
  constexpr int kLanesPerGroup = Pol::kGroup / kChunk;
  float amax = 0.0f;
#pragma unroll
  for (int j = 0; j < kChunk; ++j) amax = rules::amax_step(amax, v[j]);
#pragma unroll
  for (int o = 1; o < kLanesPerGroup; o <<= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const typename Pol::Scale s = Pol::make(amax);
  uint4 packed;
  packed.x = ptx::cvt_e4m3x4_satfinite(v[0] * s.mult, v[1] * s.mult, v[2] * s.mult, v[3] * s.mult);
  packed.y = ptx::cvt_e4m3x4_satfinite(v[4] * s.mult, v[5] * s.mult, v[6] * s.mult, v[7] * s.mult);
  packed.z = ptx::cvt_e4m3x4_satfinite(v[8] * s.mult, v[9] * s.mult, v[10] * s.mult, v[11] * s.mult);
  packed.w = ptx::cvt_e4m3x4_satfinite(v[12] * s.mult, v[13] * s.mult, v[14] * s.mult, v[15] * s.mult);
  return {packed, s};
}

// Writes a quantized chunk: the 16 e4m3 bytes (`valid` of them) at q and, from the group's first lane, the scale of
// (row, group).
template <class Pol>
__device__ __forceinline__ void store_chunk(const uint4& packed, const typename Pol::Scale& s, uint8_t* q,
                                            int64_t valid, bool out_vec, const ScaleDst& sd, int64_t row,
                                            int64_t group, bool first_lane) {
  if (valid <= 0) return;
  if (out_vec && valid >= kChunk) {
    ptx::st_global_v4(q, packed);
  } else {
    const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      if (j < valid) q[j] = static_cast<uint8_t>(words[j / 4] >> (8 * (j % 4)));
    }
  }
  if (first_lane) Pol::store(sd, row, group, s);
}

template <class Pol>
__device__ __forceinline__ void quantize_chunk(const float (&v)[kChunk], uint8_t* q, int64_t valid, bool out_vec,
                                               const ScaleDst& sd, int64_t row, int64_t group, bool first_lane) {
  const QuantizedChunk<Pol> c = quantize16<Pol>(v);
  store_chunk<Pol>(c.packed, c.scale, q, valid, out_vec, sd, row, group, first_lane);
}

// Zero the padding bytes of a blocked128x4 scale buffer for a [rows, scale_cols] scale matrix: columns
// [scale_cols, pad(scale_cols, 4)) of the real rows (single bytes), then rows [rows, pad(rows, 128)) (one 4-byte
// word per (row, tile column): the 4 bytes of a row inside a 128x4 tile are contiguous and 4-byte aligned; the
// buffer is 16-byte aligned, validated). Grid-strided over the whole grid with 32-bit indices; the launch gives
// the grid at least blocked_padding_blocks() blocks, so that a tiny M (M = 1: 127 padding rows) does not leave
// this to one block (that took 25 us at M = 1, N = 7168).
__host__ __device__ __forceinline__ int64_t blocked_padding_items(int64_t rows, int64_t scale_cols) {
  const int64_t cols_p = (scale_cols + 3) / 4 * 4;
  const int64_t rows_p = (rows + 127) / 128 * 128;
  return rows * (cols_p - scale_cols) + (rows_p - rows) * (cols_p / 4);
}
inline constexpr int kPaddingItemsPerThread = 4;
inline int64_t blocked_padding_blocks(int64_t rows, int64_t scale_cols) {
  const int64_t per_block = int64_t{kThreads} * kPaddingItemsPerThread;
  return (blocked_padding_items(rows, scale_cols) + per_block - 1) / per_block;
}

__device__ __forceinline__ void zero_blocked_padding(uint8_t* s, int64_t rows, int64_t scale_cols) {
  const int64_t cols_p = (scale_cols + 3) / 4 * 4;
  const uint32_t extra_c = static_cast<uint32_t>(cols_p - scale_cols);
  const uint32_t tcols = static_cast<uint32_t>(cols_p / 4);
  const int64_t a = rows * extra_c;
  const int64_t total = blocked_padding_items(rows, scale_cols);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    if (i < a) {
      const int64_t r = i / extra_c;
      s[rules::blocked128x4_offset(r, scale_cols + (i - r * extra_c), scale_cols)] = 0;
    } else {
      const uint32_t k = static_cast<uint32_t>(i - a);  // < 128 * tcols
      const uint32_t dr = k / tcols;
      *reinterpret_cast<uint32_t*>(s + rules::blocked128x4_offset(rows + dr, 4 * (k - dr * tcols), scale_cols)) = 0u;
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Rowwise: out [M, N], groups along N.
template <class In, class Pol, int kUnroll>
__global__ void __launch_bounds__(kThreads, 3) quantize_rowwise_kernel(const QuantParams p) {
  static_assert(Pol::kGroup % kChunk == 0 && kWarpSpan % Pol::kGroup == 0, "groups must tile a warp's span");
  constexpr int kLanesPerGroup = Pol::kGroup / kChunk;
  using T = typename In::T;
  const T* __restrict__ x = static_cast<const T*>(p.x);
  const ScaleDst sd{p.scales, p.scale_ld, p.scale_cols};
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const uint32_t segs_per_row = static_cast<uint32_t>((p.N + kWarpSpan - 1) / kWarpSpan);
  const uint32_t items = static_cast<uint32_t>(p.M) * segs_per_row;  // host checks this fits
  const uint32_t warp = (blockIdx.x * kThreads + threadIdx.x) >> 5;
  const uint32_t nwarps = gridDim.x * (kThreads / 32);
  const bool first_lane = (lane % kLanesPerGroup) == 0;

  for (uint32_t base = warp * kUnroll; base < items; base += nwarps * kUnroll) {
    uint32_t w[kUnroll][In::kWords];
    uint32_t row[kUnroll], col[kUnroll];
    int valid[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const uint32_t item = base + k;
      row[k] = item / segs_per_row;
      col[k] = (item - row[k] * segs_per_row) * kWarpSpan + lane * kChunk;
      const int64_t left = p.N - col[k];
      valid[k] = item < items ? static_cast<int>(left < kChunk ? left : kChunk) : 0;
      load_chunk<In>(w[k], x + (item < items ? static_cast<int64_t>(row[k]) * p.ldx + col[k] : 0), valid[k],
                     p.in_vec);
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      float v[kChunk];
#pragma unroll
      for (int j = 0; j < kChunk; ++j) v[j] = In::get(w[k], j);
      quantize_chunk<Pol>(v, p.q + static_cast<int64_t>(row[k]) * p.ldq + col[k], valid[k], p.out_vec, sd, row[k],
                          col[k] / Pol::kGroup, first_lane);
    }
  }
  if constexpr (Pol::kBlocked) zero_blocked_padding(static_cast<uint8_t*>(p.scales), p.rows, p.scale_cols);
}

// ------------------------------------------------------------------------------------------------------------
// Columnwise: out [N, M] = quantize(x^T), groups along M. Tiles of kTileM (input rows, = output columns) x kTileN
// (input columns, = output rows).
inline constexpr int kTileM = 128;
inline constexpr int kTileN = 64;

// Word offset in the transposed FP32 tile sT[n][m] (row n holds kTileM floats = 32 chunks of 4). The 16-byte
// chunk index q = m/4 is XOR-swizzled in its low 3 bits by (q/4) (spreads the 8 chunk-threads of a row) and by the
// column's input vector index (spreads the lanes that store one input row).
template <class In>
__device__ __forceinline__ int smem_word(int n, int m) {
  const int qc = m >> 2;
  const int sw = qc ^ ((qc >> 2) & 7) ^ ((n / In::kVecElems) & 7);
  return n * kTileM + sw * 4 + (m & 3);
}

// Tile raster of both columnwise kernels: groups of `group_n` n-tiles, m-tiles outer and n-tiles inner inside a
// group (group_n = 1: m fastest). Blocks running at the same time then read group_n x kTileN input columns of each
// row contiguously and write whole runs of m-tiles of each output row, instead of 128- or 256-byte pieces.
struct TileCoord {
  int64_t m0, n0;
};
// For a kTM x kTN tile grid (the staged kernels: kTileM x kTileN).
template <int kTM, int kTN>
__device__ __forceinline__ TileCoord colwise_tile_t(int64_t tile, int64_t tiles_m, int64_t tiles_n, int group_n) {
  const int64_t per_group = tiles_m * group_n;
  const int64_t g = tile / per_group;
  const int64_t gn = tiles_n - g * group_n < group_n ? tiles_n - g * group_n : group_n;
  const int64_t i = tile - g * per_group;
  const int64_t mt = i / gn;
  return {mt * kTM, (g * group_n + (i - mt * gn)) * kTN};
}

template <class In, class Pol>
__global__ void __launch_bounds__(kThreads, 2) quantize_colwise_kernel(const QuantParams p) {
  static_assert(kTileM % Pol::kGroup == 0, "a tile holds whole groups along M");
  constexpr int kLanesPerGroup = Pol::kGroup / kChunk;
  constexpr int kLanesPerRow = kTileN / In::kVecElems;     // lanes loading one input row segment
  constexpr int kRowsPerPass = kThreads / kLanesPerRow;
  constexpr int kPasses = kTileM / kRowsPerPass;
  constexpr int kChunksPerCol = kTileM / kChunk;            // 8 chunk-threads per output row of the tile
  constexpr int kColsPerPass = kThreads / kChunksPerCol;    // 32
  constexpr int kColPasses = kTileN / kColsPerPass;         // 2
  using T = typename In::T;
  __shared__ __align__(16) float sT[kTileN * kTileM];

  const T* __restrict__ x = static_cast<const T*>(p.x);
  const ScaleDst sd{p.scales, p.scale_ld, p.scale_cols};
  const int tid = static_cast<int>(threadIdx.x);
  const int64_t tiles_m = (p.M + kTileM - 1) / kTileM;
  const int64_t tiles_n = (p.N + kTileN - 1) / kTileN;
  const int64_t tiles = tiles_m * tiles_n;
  // load-phase coordinates
  const int lr = tid / kLanesPerRow;
  const int ln = (tid % kLanesPerRow) * In::kVecElems;
  // compute-phase coordinates
  const int cc = tid % kChunksPerCol;
  const int cn = tid / kChunksPerCol;
  const bool first_lane = (cc % kLanesPerGroup) == 0;

  uint32_t w[kPasses][In::kVecElems * sizeof(T) / 4];
  auto load_tile = [&](int64_t tile) {
    const auto [m0, n0] = colwise_tile_t<kTileM, kTileN>(tile, tiles_m, tiles_n, p.raster_n);
    const int64_t n = n0 + ln;
    const int64_t valid_n = p.N - n;
#pragma unroll
    for (int s = 0; s < kPasses; ++s) {
      const int64_t m = m0 + lr + s * kRowsPerPass;
      const T* src = x + (m < p.M ? m * p.ldx + n : 0);
      if (m < p.M && valid_n >= In::kVecElems && p.in_vec) {
        const uint4 v = ptx::ld_global_nc_v4(src);
        w[s][0] = v.x;
        w[s][1] = v.y;
        w[s][2] = v.z;
        w[s][3] = v.w;
      } else {
        uint32_t t[In::kWords] = {};
#pragma unroll
        for (int j = 0; j < In::kVecElems; ++j) {
          if (m < p.M && j < valid_n) In::set(t, j, src[j]);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) w[s][i] = t[i];
      }
    }
  };

  int64_t tile = blockIdx.x;
  if (tile < tiles) load_tile(tile);
  for (; tile < tiles; tile += gridDim.x) {
    __syncthreads();  // the previous tile's reads of sT are done
#pragma unroll
    for (int s = 0; s < kPasses; ++s) {
      const int m = lr + s * kRowsPerPass;
#pragma unroll
      for (int j = 0; j < In::kVecElems; ++j) {
        uint32_t t[In::kWords] = {};
#pragma unroll
        for (int i = 0; i < 4; ++i) t[i] = w[s][i];
        sT[smem_word<In>(ln + j, m)] = In::get(t, j);
      }
    }
    __syncthreads();
    const auto [m0, n0] = colwise_tile_t<kTileM, kTileN>(tile, tiles_m, tiles_n, p.raster_n);
    if (tile + gridDim.x < tiles) load_tile(tile + gridDim.x);  // in flight while this tile is quantized

#pragma unroll
    for (int s = 0; s < kColPasses; ++s) {
      const int nl = cn + s * kColsPerPass;
      float v[kChunk];
#pragma unroll
      for (int k = 0; k < kChunk / 4; ++k) {
        const float4 f = *reinterpret_cast<const float4*>(&sT[smem_word<In>(nl, cc * kChunk + 4 * k)]);
        v[4 * k + 0] = f.x;
        v[4 * k + 1] = f.y;
        v[4 * k + 2] = f.z;
        v[4 * k + 3] = f.w;
      }
      const int64_t orow = n0 + nl;          // output row (input column)
      const int64_t ocol = m0 + cc * kChunk;  // output column (input row)
      const int64_t valid = orow < p.N ? p.M - ocol : 0;
      quantize_chunk<Pol>(v, p.q + (orow < p.N ? orow * p.ldq + ocol : 0), valid, p.out_vec, sd, orow,
                          ocol / Pol::kGroup, first_lane);
    }
  }
  if constexpr (Pol::kBlocked) zero_blocked_padding(static_cast<uint8_t*>(p.scales), p.rows, p.scale_cols);
}

// ------------------------------------------------------------------------------------------------------------
// Columnwise, staged (BF16 input, 16-byte aligned rows): a kTM (M) x kTN (N) input tile goes into shared memory
// as it is (bf16, 2 kTN bytes per tile row) by cp.async (16 bytes a copy, zero-filled past M / N), through a ring
// of kStages tiles, so that kStages - 1 tiles per block are in flight while one is quantized, with no register
// staging. Tiles: 128x64 (the first: 128-byte reads per input row and 128-byte writes per output row), 128x128,
// 256x64, 256x128 (256-byte runs on the read and/or the write side: DRAM efficiency). Compute: per 128 x 64
// sub-tile a thread owns 2 neighbouring input columns (= output rows) x 16 consecutive input rows (= 16
// consecutive output elements of each), reading 16 bf16x2 words. The 16-byte chunk q of tile row r sits at chunk
// q ^ ((r / 16) & 7) of that row: the 8 lanes of one column pair read rows 16c + j (c = 0..7), which then fall in
// 8 different 16-byte chunks (bank groups: the row length is a multiple of 128 bytes), and the 4 column pairs of a
// warp in the 4 words of each: 32 banks, no conflict; the cp.async writes stay whole 16-byte chunks.
namespace staged {
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// 16-byte global -> shared copy, bytes beyond src_bytes (0..16) zero-filled (nothing read when 0).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, uint32_t src_bytes) {
  asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}
__device__ __forceinline__ uint32_t lds32(uint32_t addr) {
  uint32_t v;
  asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(addr));
  return v;
}
template <int kTM, int kTN>
struct Shape {
  static_assert(kTN % 64 == 0 && kTM % 128 == 0 && kThreads == 256, "the swizzle and lane maps assume these");
  static constexpr int kRowBytes = kTN * 2;                               // one bf16 tile row
  static constexpr int kChunksPerRow = kRowBytes / 16;
  static constexpr int kStageBytes = kTM * kRowBytes;
  static constexpr int kCopiesPerThread = kTM * kChunksPerRow / kThreads;
  static constexpr int kRowsPerCopyPass = kThreads / kChunksPerRow;
  static constexpr int kSubM = kTM / 128, kSubN = kTN / 64;              // 128 x 64 compute sub-tiles
  // Byte offset of 16-byte chunk q of tile row r.
  __device__ __forceinline__ static uint32_t chunk_offset(int r, int q) {
    return static_cast<uint32_t>(r * kRowBytes + ((q ^ ((r >> 4) & 7)) << 4));
  }
};
}  // namespace staged


template <class Pol, int kTM, int kTN, int kStages>
__global__ void __launch_bounds__(kThreads, 2) quantize_colwise_staged_kernel(const QuantParams p) {
  static_assert(kTM % Pol::kGroup == 0, "a tile holds whole groups along M");
  static_assert(kStages >= 2, "a ring of at least two tiles");
  using S = staged::Shape<kTM, kTN>;
  using namespace staged;
  constexpr int kLanesPerGroup = Pol::kGroup / kChunk;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t sbase = smem_addr(smem);

  const uint16_t* __restrict__ x = static_cast<const uint16_t*>(p.x);
  const ScaleDst sd{p.scales, p.scale_ld, p.scale_cols};
  const int tid = static_cast<int>(threadIdx.x);
  const int64_t tiles_m = (p.M + kTM - 1) / kTM;
  const int64_t tiles_n = (p.N + kTN - 1) / kTN;
  const int64_t tiles = tiles_m * tiles_n;
  const int group_n = p.raster_n > 0 ? p.raster_n : (1024 / (kTN * 2) > 0 ? 1024 / (kTN * 2) : 1);

  // Copy phase: thread -> (tile row, 16-byte chunk) for kCopiesPerThread rows kRowsPerCopyPass apart.
  const int cq = tid % S::kChunksPerRow;
  const int cr = tid / S::kChunksPerRow;
  auto issue = [&](int64_t tile, int stage) {
    if (tile < tiles) {
      const auto [m0, n0] = colwise_tile_t<kTM, kTN>(tile, tiles_m, tiles_n, group_n);
      const int64_t n = n0 + cq * 8;
      const int64_t left_n = p.N - n;
      const uint32_t nbytes = left_n >= 8 ? 16u : (left_n > 0 ? static_cast<uint32_t>(left_n) * 2u : 0u);
      const uint32_t dst0 = sbase + stage * S::kStageBytes;
#pragma unroll
      for (int i = 0; i < S::kCopiesPerThread; ++i) {
        const int r = cr + i * S::kRowsPerCopyPass;
        const int64_t m = m0 + r;
        const uint32_t bytes = m < p.M ? nbytes : 0u;
        const uint16_t* src = bytes ? x + m * p.ldx + n : x;
        cp_async_16(dst0 + S::chunk_offset(r, cq), src, bytes);
      }
    }
    cp_async_commit();  // always: the group count stays in step with the ring
  };

  // Compute phase: lane -> (c: 16-row chunk along M, column pair) inside a 128 x 64 sub-tile; warp w owns column
  // pairs 4w .. 4w+3 of it. Rows 16c + j (j < 16) of every sub-tile have the swizzle key c.
  const int lane = tid & 31;
  const int c = lane & 7;
  const int pair = (tid >> 5) * 4 + (lane >> 3);
  const bool first_lane = (c % kLanesPerGroup) == 0;

  const int64_t step = gridDim.x;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) issue(blockIdx.x + s * step, s);
  int stage = 0;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += step) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // this tile's copies (all threads') landed; the stage refilled below was read by everyone
    issue(tile + (kStages - 1) * step, stage == 0 ? kStages - 1 : stage - 1);

    const auto [m0, n0] = colwise_tile_t<kTM, kTN>(tile, tiles_m, tiles_n, group_n);
#pragma unroll
    for (int sm = 0; sm < S::kSubM; ++sm) {
#pragma unroll
      for (int sn = 0; sn < S::kSubN; ++sn) {
        const int pr = pair + 32 * sn;  // column pair inside the tile
        const uint32_t base = sbase + stage * S::kStageBytes + S::chunk_offset(128 * sm + c * kChunk, pr >> 2) +
                              static_cast<uint32_t>(pr & 3) * 4;
        uint32_t w[kChunk];
#pragma unroll
        for (int j = 0; j < kChunk; ++j) w[j] = lds32(base + j * S::kRowBytes);
        const int64_t orow = n0 + 2 * pr;  // output row of the low halves
        const int64_t ocol = m0 + 128 * sm + c * kChunk;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float v[kChunk];
#pragma unroll
          for (int j = 0; j < kChunk; ++j) v[j] = __uint_as_float(h ? (w[j] & 0xffff0000u) : (w[j] << 16));
          const int64_t r = orow + h;
          const int64_t valid = r < p.N ? p.M - ocol : 0;
          quantize_chunk<Pol>(v, p.q + (r < p.N ? r * p.ldq + ocol : 0), valid, p.out_vec, sd, r,
                              ocol / Pol::kGroup, first_lane);
        }
      }
    }
    stage = stage + 1 == kStages ? 0 : stage + 1;
  }
  cp_async_wait<0>();  // no copy outlives the block (the tail groups are empty)
  if constexpr (Pol::kBlocked) zero_blocked_padding(static_cast<uint8_t*>(p.scales), p.rows, p.scale_cols);
}

// ------------------------------------------------------------------------------------------------------------
// Columnwise, TMA (BF16 input, 16-byte aligned base and row pitch; the default columnwise BF16 kernel). A kTM (M)
// x kTN (N) input tile comes into shared memory by the bulk tensor copy engine: kTN / 64 boxes of [kTM rows, 64
// bf16 columns] (one 128-byte swizzle span per row, CU_TENSOR_MAP_SWIZZLE_128B: 16-byte chunk q of tile row r
// sits at chunk q ^ (r % 8), the box 1024-byte aligned), completing on an mbarrier; out-of-bounds rows / columns
// read as zeros (they never change an amax and are not stored). One elected thread issues the copies; there are no
// per-thread copy instructions, address computations or zero-fill branches on the load side.
// Grid: waves = 0 (default) gives every block kStages tiles, all issued at once, and as many blocks as that takes
// (the hardware block scheduler balances the SMs and several blocks per SM keep the copies in flight; the rowwise
// kernel measured the same effect); waves > 0 runs persistent (SMs x resident blocks x waves), each block's ring of
// kStages tiles refilled as it goes (a barrier per refill: all threads have read the stage).
// Compute: a warp work item is 8 row chunks (16 consecutive rows each: lane & 7) x 4 neighbouring column pairs (lane
// >> 3; one 16-byte chunk of the row); a thread reads 16 bf16x2 words, one per row of its chunk, and produces 16
// consecutive output elements for each of its 2 output rows (= input columns). Bank conflicts: in one load
// instruction the 8 row chunks would read rows 16c + j, which share r % 8 and so the swizzled 16-byte chunk; each
// lane therefore visits its 16 rows rotated by c (row 16c + ((j + c) & 15) at step j), which puts the 8 lanes in 8
// different chunks (the 4 column pairs in its 4 words): 32 banks. The amax is order-free; the 16 e4m3 bytes are
// rotated back (rotl_bytes16) before their one 16-byte store. Scales: the group's first lane puts each scale into
// the block's scale stage in shared memory; after the barrier that completes the tile, store_tile_scales writes one
// 32-bit word per output row and 128-row slice (compact e8m0: 4 groups; no shuffles, no per-lane scale stores).
namespace tmacw {
template <int kTM, int kTN>
struct Shape {
  static_assert(kTM % 128 == 0 && kTN % 64 == 0, "whole 128-row chunks and 64-column boxes");
  static constexpr int kBoxCols = 64;  // bf16 columns per box: one 128-byte swizzle span
  static constexpr int kBoxes = kTN / kBoxCols;
  static constexpr int kBoxBytes = kTM * 128;
  static constexpr int kStageBytes = kBoxes * kBoxBytes;
  static constexpr int kRowChunks = kTM / kChunk;                 // 16-row chunks along M
  static constexpr int kQuads = kTN / 8;                          // 16-byte chunks (4 column pairs) of a tile row
  static constexpr int kWarpItems = kQuads * (kRowChunks / 8);    // 8 row chunks x 4 column pairs each
  static constexpr int kThreadsT = kWarpItems / 2 * 32 < 256 ? kWarpItems / 2 * 32 : 256;  // 2+ items per warp
  static constexpr int kItemsPerWarp = kWarpItems * 32 / kThreadsT;
  static constexpr int kMinBlocks = 65536 / (kThreadsT * 64);     // register cap 64
  static_assert(kItemsPerWarp * kThreadsT == kWarpItems * 32, "block shape");
  // Scale stage: one 32-bit word per output row (kTN) and 128-row slice of the tile (kTM / 128), [slice][row]:
  // the 4 e8m0 bytes of the slice's groups of 32 (byte j = group j), or the FP32 scale of its group of 128.
  static constexpr int kScaleWords = kTM / 128 * kTN;
  static_assert(kScaleWords <= kThreadsT, "store_tile_scales: one word per thread");
};

// Rotates 16 bytes (little-endian across x..w) towards higher byte positions by r (0..7): out[i] = in[(i - r) % 16].
__device__ __forceinline__ uint4 rotl_bytes16(uint4 b, int r) {
  uint32_t t0 = b.x, t1 = b.y, t2 = b.z, t3 = b.w;
  if (r & 4) {
    const uint32_t x = t3;
    t3 = t2;
    t2 = t1;
    t1 = t0;
    t0 = x;
  }
  const uint32_t s = static_cast<uint32_t>(r & 3) * 8u;
  return make_uint4(__funnelshift_l(t3, t0, s), __funnelshift_l(t0, t1, s), __funnelshift_l(t1, t2, s),
                    __funnelshift_l(t2, t3, s));
}

__device__ __forceinline__ uint8_t* scale_stage_bytes(uint32_t* stage) { return reinterpret_cast<uint8_t*>(stage); }

// Writes a tile's scale stage (Shape::kScaleWords, filled by the whole block) to the scale buffer: thread i takes
// word i, i.e. output row n0 + i % kTN and the groups of input rows m0 + 128 (i / kTN) + [0, 128). e8m0: one 32-bit
// store when the word's 4 groups exist and their bytes are contiguous and 4-byte aligned (blocked128x4: always, the
// word is one 128x4 tile row; compact: ld % 4 == 0), else the existing bytes one by one. FP32 (MN-major): threads
// of consecutive rows store consecutive floats. evict_last: the 32-bit stores carry the L2 evict-last policy. A
// compact e8m0 row gets 4 bytes per tile, so each 32-byte sector of the scale buffer is completed by 8 tiles and
// each line by 32; lines evicted before that are written back to DRAM partially and more than once (without the
// policy the scale stores added more DRAM write bytes than the scale buffer holds: bench/results/
// 2026-11-25-h100-quantize-colwise-s3-run2-ncu.log).
template <class Pol, int kTM, int kTN, int kThreadsT>
__device__ __forceinline__ void store_tile_scales(const uint32_t* stage, const ScaleDst& sd, int64_t N, uint32_t m0,
                                                  uint32_t n0, int tid, bool evict_last) {
  if (tid >= Shape<kTM, kTN>::kScaleWords) return;
  const int64_t r = static_cast<int64_t>(n0) + tid % kTN;
  if (r >= N) return;
  const uint32_t word = stage[tid];
  const int64_t m = static_cast<int64_t>(m0) + 128 * (tid / kTN);  // first input row of the word's slice
  if constexpr (Pol::kByteScale) {
    const int64_t g0 = m / Pol::kGroup;
    uint8_t* const s = static_cast<uint8_t*>(sd.p);
    if (g0 + 4 <= sd.cols && (Pol::kBlocked || sd.ld % 4 == 0)) {
      uint32_t* const dst = reinterpret_cast<uint32_t*>(s + Pol::offset(sd, r, g0));
      if (evict_last) ptx::st_global_u32_hint(dst, word, ptx::l2_policy_evict_last());
      else *dst = word;
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if (g0 + j < sd.cols) s[Pol::offset(sd, r, g0 + j)] = static_cast<uint8_t>(word >> (8 * j));
      }
    }
  } else {
    const int64_t g = m / Pol::kGroup;
    if (g < sd.cols) {
      float* const dst = static_cast<float*>(sd.p) + g * sd.ld + r;
      if (evict_last) ptx::st_global_u32_hint(dst, word, ptx::l2_policy_evict_last());
      else *dst = __uint_as_float(word);
    }
  }
}
}  // namespace tmacw

// 2D tensor map for the TMA kernel (defined in quantize_colwise.cu): [rows, cols] of elem_bytes-byte elements, row
// pitch ld elements, box [box_rows, box_cols], swizzle 0 / 128 bytes, L2 promotion 0 = 256 B, 1 = none, 2 = 64 B,
// 3 = 128 B. Throws mxgemm::Error on failure.
CUtensorMap colwise_tensor_map(const char* what, const void* base, int elem_bytes, int64_t rows, int64_t cols,
                               int64_t ld, int box_rows, int box_cols, int swizzle_bytes, int l2promo);

// kStoreTma: the e4m3 tile goes out through shared memory and one bulk tensor store per tile (omap: output [N, M],
// box [kTN, kTM]) instead of 16-byte stores from the threads.
template <class Pol, int kTM, int kTN, int kStages, bool kStoreTma>
__global__ void __launch_bounds__(tmacw::Shape<kTM, kTN>::kThreadsT, tmacw::Shape<kTM, kTN>::kMinBlocks)
    quantize_colwise_tma_kernel(const __grid_constant__ CUtensorMap tmap, const __grid_constant__ CUtensorMap omap,
                                const QuantParams p) {
  using S = tmacw::Shape<kTM, kTN>;
  static_assert(kTM % Pol::kGroup == 0, "a tile holds whole groups along M");
  static_assert(kStages >= 1 && kStages <= 4, "ring depth");
  constexpr int kLanesPerGroup = Pol::kGroup / kChunk;
  constexpr int kWarps = S::kThreadsT / 32;
  extern __shared__ uint8_t smem_raw[];  // kStages stages (+ the e4m3 output tile [kTN][kTM]) + 1 KB alignment slack
  __shared__ uint64_t full[kStages];
  __shared__ uint32_t sscale[S::kScaleWords];  // the tile's scales, see tmacw::store_tile_scales
  const uint32_t raw = staged::smem_addr(smem_raw);
  const uint32_t sbase = (raw + 1023u) & ~1023u;  // the 128-byte swizzle pattern repeats every 1024 bytes
  uint8_t* const sgen = smem_raw + (sbase - raw);
  const uint32_t sout = sbase + kStages * S::kStageBytes;

  const ScaleDst sd{p.scales, p.scale_ld, p.scale_cols};
  const int tid = static_cast<int>(threadIdx.x);
  // Tile indices fit 32 bits (host-checked): 32-bit divisions in the raster, no 64-bit division subroutine.
  const uint32_t tiles_m = static_cast<uint32_t>((p.M + kTM - 1) / kTM);
  const uint32_t tiles_n = static_cast<uint32_t>((p.N + kTN - 1) / kTN);
  const uint32_t tiles = tiles_m * tiles_n;
  const uint32_t group_n = p.raster_n > 0 ? static_cast<uint32_t>(p.raster_n) : (1024 / (kTN * 2) > 0 ? 1024 / (kTN * 2) : 1);
  const uint32_t step = gridDim.x;
  auto coord = [&](uint32_t tile, uint32_t& m0, uint32_t& n0) {  // colwise_tile_t in 32 bits
    const uint32_t per_group = tiles_m * group_n;
    const uint32_t g = tile / per_group;
    const uint32_t gn = tiles_n - g * group_n < group_n ? tiles_n - g * group_n : group_n;
    const uint32_t i = tile - g * per_group;
    const uint32_t mt = i / gn;
    m0 = mt * kTM;
    n0 = (g * group_n + (i - mt * gn)) * kTN;
  };

  auto issue = [&](uint32_t tile, int stage) {  // one thread
    uint32_t m0, n0;
    coord(tile, m0, n0);
    ptx::mbarrier_arrive_expect_tx(&full[stage], S::kStageBytes);
#pragma unroll
    for (int b = 0; b < S::kBoxes; ++b) {
      if (p.loads_evict_first) {
        ptx::tma_load_2d_hint(&tmap, staged::smem_addr(&full[stage]),
                              sbase + static_cast<uint32_t>(stage * S::kStageBytes + b * S::kBoxBytes),
                              static_cast<int32_t>(n0 + b * S::kBoxCols), static_cast<int32_t>(m0),
                              ptx::l2_policy_evict_first());
      } else {
        ptx::tma_load_2d(&tmap, &full[stage], sgen + stage * S::kStageBytes + b * S::kBoxBytes,
                         static_cast<int32_t>(n0 + b * S::kBoxCols), static_cast<int32_t>(m0));
      }
    }
  };
  if (tid == 0) {
    ptx::tma_prefetch_descriptor(&tmap);
    if constexpr (kStoreTma) ptx::tma_prefetch_descriptor(&omap);
#pragma unroll
    for (int s = 0; s < kStages; ++s) ptx::mbarrier_init(&full[s], 1);
    ptx::fence_mbarrier_init();
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      if (blockIdx.x + s * step < tiles) issue(blockIdx.x + s * step, s);
    }
  }
  __syncthreads();  // the barriers are initialised before anyone waits on them

  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int c_lo = lane & 7;  // row chunk within the item; also the rotation of the row order
  const int pp = lane >> 3;   // column pair within the 16-byte chunk
  const bool first_lane = (c_lo % kLanesPerGroup) == 0;

  int it = 0;
  for (uint32_t tile = blockIdx.x; tile < tiles; tile += step, ++it) {
    const int stage = it % kStages;
    ptx::mbarrier_wait(&full[stage], static_cast<uint32_t>(it / kStages) & 1u);
    uint32_t m0, n0;
    coord(tile, m0, n0);
#pragma unroll 1
    for (int k = 0; k < S::kItemsPerWarp; ++k) {  // not unrolled: one item's 16 words live at a time (registers)
      const int gw = warp + k * kWarps;
      const int qd = gw % S::kQuads;  // 16-byte column chunk of the tile row
      const int chi = gw / S::kQuads;
      const int c = chi * 8 + c_lo;
      const int q = qd & 7;
      const uint32_t base = sbase + static_cast<uint32_t>(stage * S::kStageBytes + (qd >> 3) * S::kBoxBytes +
                                                          c * kChunk * 128 + pp * 4);
      uint32_t w[kChunk];
#pragma unroll
      for (int j = 0; j < kChunk; ++j) {
        const int rr = (j + c_lo) & 15;
        w[j] = staged::lds32(base + static_cast<uint32_t>(rr * 128 + ((q ^ (rr & 7)) << 4)));
      }
      const int pair = qd * 4 + pp;
      const int64_t ocol = static_cast<int64_t>(m0) + c * kChunk;
      const int64_t r0 = static_cast<int64_t>(n0) + 2 * pair;
      typename Pol::Scale sc[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float v[kChunk];
#pragma unroll
        for (int j = 0; j < kChunk; ++j) v[j] = __uint_as_float(h ? (w[j] & 0xffff0000u) : (w[j] << 16));
        const QuantizedChunk<Pol> qc = quantize16<Pol>(v);
        const uint4 packed = tmacw::rotl_bytes16(qc.packed, c_lo);
        const int64_t r = r0 + h;
        if constexpr (kStoreTma) {
          ptx::st_shared_v4(sout + static_cast<uint32_t>((2 * pair + h) * kTM + c * kChunk), packed);
        } else {
          const int64_t valid = r < p.N ? p.M - ocol : 0;
          uint8_t* const dst = p.q + (r < p.N ? r * p.ldq + ocol : 0);
          if (p.evict_first && p.out_vec && valid >= kChunk) {
            ptx::st_global_v4_hint(dst, packed, ptx::l2_policy_evict_first());
          } else {
            store_chunk<Pol>(packed, qc.scale, dst, valid, p.out_vec, sd, r, 0, false);
          }
        }
        sc[h] = qc.scale;
      }
      // The two rows' scales go to the tile's scale stage (written to global memory after the block barrier below).
      uint32_t* const stage_word = sscale + chi * kTN + 2 * pair;
      if constexpr (Pol::kByteScale) {
        if (first_lane) {
#pragma unroll
          for (int h = 0; h < 2; ++h) tmacw::scale_stage_bytes(stage_word + h)[c_lo / kLanesPerGroup] = sc[h].byte;
        }
      } else {
        if (c_lo == 0) {
#pragma unroll
          for (int h = 0; h < 2; ++h) stage_word[h] = __float_as_uint(sc[h].value);
        }
      }
    }
    if constexpr (kStoreTma) ptx::fence_proxy_async_shared();  // each writer: its st.shared before the bulk store
    __syncthreads();  // the e4m3 tile and the scale stage are complete
    // The scales leave from the stage: one word per output row and 128-row slice from one thread, with the L2
    // evict-last policy by default (see store_tile_scales).
    tmacw::store_tile_scales<Pol, kTM, kTN, S::kThreadsT>(sscale, sd, p.N, m0, n0, tid, p.scales_evict_last);
    if constexpr (kStoreTma) {
      if (tid == 0) {
        if (p.evict_first) {
          ptx::tma_store_2d_hint(&omap, sout, static_cast<int32_t>(m0), static_cast<int32_t>(n0),
                                 ptx::l2_policy_evict_first());
        } else {
          ptx::tma_store_2d(&omap, smem_raw + (sout - raw), static_cast<int32_t>(m0), static_cast<int32_t>(n0));
        }
        ptx::tma_store_commit();
        ptx::tma_store_wait_read();  // the output tile may be rewritten / the block may exit
      }
    }
    __syncthreads();  // every thread has read this stage and the scale stage (and tid 0 waited for the store)
    if (tid == 0 && tile + kStages * step < tiles) issue(tile + kStages * step, stage);
  }
  if constexpr (Pol::kBlocked) zero_blocked_padding(static_cast<uint8_t*>(p.scales), p.rows, p.scale_cols);
}

// ------------------------------------------------------------------------------------------------------------
// SFA transform: src row-major [M, kblocks] (row stride ld_src) -> dst [kblocks, ldm = pad(M,4)], padding rows
// (m in [M, ldm)) written 0. 32x32 tiles through shared memory; block (32, 8).
template <int kUnused = 0>
__global__ void __launch_bounds__(256) sfa_to_mn_major_kernel(const float* __restrict__ src, int64_t M,
                                                              int64_t kblocks, int64_t ld_src,
                                                              float* __restrict__ dst, int64_t ldm) {
  __shared__ float tile[32][33];
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * 32;
  const int64_t k0 = static_cast<int64_t>(blockIdx.y) * 32;
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
#pragma unroll
  for (int i = 0; i < 32; i += 8) {
    const int64_t m = m0 + ty + i, k = k0 + tx;
    tile[ty + i][tx] = (m < M && k < kblocks) ? src[m * ld_src + k] : 0.0f;
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < 32; i += 8) {
    const int64_t k = k0 + ty + i, m = m0 + tx;
    if (k < kblocks && m < ldm) dst[k * ldm + m] = tile[tx][ty + i];
  }
}

// ------------------------------------------------------------------------------------------------------------
// Launch helpers (host). grid_cap: the persistent grid's block count (SMs x resident blocks), computed by the
// caller; unroll: rowwise work items per warp iteration (1, 2 or 4).
template <class In, class Pol, int kUnroll>
cudaError_t launch_rowwise_unrolled(const QuantParams& p, int grid_cap, cudaStream_t stream) {
  const int64_t segs = (p.N + kWarpSpan - 1) / kWarpSpan;
  const int64_t warp_iters = (p.M * segs + kUnroll - 1) / kUnroll;
  int64_t blocks = (warp_iters + kThreads / 32 - 1) / (kThreads / 32);
  if (blocks > grid_cap) blocks = grid_cap;
  if constexpr (Pol::kBlocked) blocks = std::max(blocks, blocked_padding_blocks(p.rows, p.scale_cols));
  if (blocks < 1) blocks = 1;
  quantize_rowwise_kernel<In, Pol, kUnroll><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

template <class In, class Pol, int kUnroll>
int rowwise_blocks_per_sm() {
  static const int occ = [] {
    int n = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, quantize_rowwise_kernel<In, Pol, kUnroll>, kThreads, 0) !=
        cudaSuccess) {
      (void)cudaGetLastError();
      n = 4;
    }
    return n < 1 ? 1 : n;
  }();
  return occ;
}

template <class In, class Pol>
int colwise_blocks_per_sm() {
  static const int occ = [] {
    int n = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, quantize_colwise_kernel<In, Pol>, kThreads, 0) !=
        cudaSuccess) {
      (void)cudaGetLastError();
      n = 2;
    }
    return n < 1 ? 1 : n;
  }();
  return occ;
}

// waves: persistent grid = num_sms x occupancy x waves (waves = 0: one block per work unit, no grid cap;
// columnwise: waves <= 0 means 1).
template <class In, class Pol>
cudaError_t launch_rowwise(const QuantParams& p, int num_sms, int unroll, int waves, cudaStream_t stream) {
  auto cap = [&](int occ) { return waves <= 0 ? 0x7fffffff : num_sms * occ * waves; };
  switch (unroll) {
    case 1: return launch_rowwise_unrolled<In, Pol, 1>(p, cap(rowwise_blocks_per_sm<In, Pol, 1>()), stream);
    case 4:
      if constexpr (sizeof(typename In::T) == 2) {  // FP32 input: 4 items would not fit the register budget
        return launch_rowwise_unrolled<In, Pol, 4>(p, cap(rowwise_blocks_per_sm<In, Pol, 4>()), stream);
      }
      [[fallthrough]];
    default: return launch_rowwise_unrolled<In, Pol, 2>(p, cap(rowwise_blocks_per_sm<In, Pol, 2>()), stream);
  }
}

// Staged columnwise kernel (BF16, 16-byte aligned rows): kTM x kTN tiles, kStages-deep ring in dynamic shared
// memory.
template <class Pol, int kTM_, int kTN_, int kStages>
struct ColwiseStaged {
  static constexpr int kTM = kTM_, kTN = kTN_;
  static constexpr int kSmem = kStages * staged::Shape<kTM, kTN>::kStageBytes;
  static int blocks_per_sm() {
    static const int occ = [] {
      int n = 0;
      if (cudaFuncSetAttribute(quantize_colwise_staged_kernel<Pol, kTM, kTN, kStages>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem) != cudaSuccess ||
          cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, quantize_colwise_staged_kernel<Pol, kTM, kTN, kStages>,
                                                        kThreads, kSmem) != cudaSuccess) {
        (void)cudaGetLastError();
        n = 1;
      }
      return n < 1 ? 1 : n;
    }();
    return occ;
  }
  static cudaError_t launch(const QuantParams& p, int64_t blocks, cudaStream_t stream) {
    quantize_colwise_staged_kernel<Pol, kTM, kTN, kStages>
        <<<static_cast<unsigned>(blocks), kThreads, kSmem, stream>>>(p);
    return cudaGetLastError();
  }
};
// The register-staged kernel (FP32 input, or rows not 16-byte aligned).
template <class In, class Pol>
struct ColwiseRegs {
  static constexpr int kTM = kTileM, kTN = kTileN;
  static int blocks_per_sm() { return colwise_blocks_per_sm<In, Pol>(); }
  static cudaError_t launch(const QuantParams& p, int64_t blocks, cudaStream_t stream) {
    QuantParams q = p;
    if (q.raster_n <= 0) q.raster_n = 1024 / (kTileN * static_cast<int>(sizeof(typename In::T)));
    quantize_colwise_kernel<In, Pol><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(q);
    return cudaGetLastError();
  }
};

// The TMA kernel: kTM x kTN tiles, kStages tiles per block in flight; waves = 0: ceil(tiles / kStages) blocks (each
// block takes kStages tiles, gridDim apart), waves > 0: persistent (SMs x resident blocks x waves), the ring refilled.
template <class Pol, int kTM_, int kTN_, int kStages, bool kStoreTma>
struct ColwiseTma {
  static constexpr int kTM = kTM_, kTN = kTN_;
  using S = tmacw::Shape<kTM, kTN>;
  static constexpr int kSmem = kStages * S::kStageBytes + (kStoreTma ? kTM * kTN : 0) + 1024;  // + alignment slack
  static int blocks_per_sm() {
    static const int occ = [] {
      int n = 0;
      if (cudaFuncSetAttribute(quantize_colwise_tma_kernel<Pol, kTM, kTN, kStages, kStoreTma>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem) != cudaSuccess ||
          cudaOccupancyMaxActiveBlocksPerMultiprocessor(
              &n, quantize_colwise_tma_kernel<Pol, kTM, kTN, kStages, kStoreTma>, S::kThreadsT, kSmem) != cudaSuccess) {
        (void)cudaGetLastError();
        n = 1;
      }
      return n < 1 ? 1 : n;
    }();
    return occ;
  }
  static cudaError_t launch(const QuantParams& p, int num_sms, int waves, int l2promo, cudaStream_t stream) {
    const int occ = blocks_per_sm();  // also raises the dynamic shared memory limit (once)
    const CUtensorMap in_map = colwise_tensor_map("quantize columnwise x", p.x, 2, p.M, p.N, p.ldx, kTM, S::kBoxCols,
                                                  128, l2promo);
    CUtensorMap out_map{};
    if constexpr (kStoreTma) {
      out_map = colwise_tensor_map("quantize columnwise out.data", p.q, 1, p.rows, p.cols, p.ldq, kTN, kTM, 0, 0);
    }
    const int64_t tiles = ((p.M + kTM - 1) / kTM) * ((p.N + kTN - 1) / kTN);
    int64_t blocks = waves <= 0 ? (tiles + kStages - 1) / kStages
                                : std::min<int64_t>(tiles, static_cast<int64_t>(num_sms) * occ * waves);
    if constexpr (Pol::kBlocked) blocks = std::max(blocks, blocked_padding_blocks(p.rows, p.scale_cols));
    if (blocks > 0x7fffffff) blocks = 0x7fffffff;
    if (blocks < 1) blocks = 1;
    quantize_colwise_tma_kernel<Pol, kTM, kTN, kStages, kStoreTma>
        <<<static_cast<unsigned>(blocks), S::kThreadsT, kSmem, stream>>>(in_map, out_map, p);
    return cudaGetLastError();
  }
};

// Persistent grid: min(tiles, SMs x resident blocks x waves), at least the blocks the blocked128x4 padding wants.
template <class Kernel, class Pol>
cudaError_t launch_colwise_with(const QuantParams& p, int num_sms, int waves, cudaStream_t stream) {
  const int64_t tiles = ((p.M + Kernel::kTM - 1) / Kernel::kTM) * ((p.N + Kernel::kTN - 1) / Kernel::kTN);
  int64_t blocks = tiles;
  const int64_t cap = static_cast<int64_t>(num_sms) * Kernel::blocks_per_sm() * (waves > 0 ? waves : 1);
  if (blocks > cap) blocks = cap;
  if constexpr (Pol::kBlocked) blocks = std::max(blocks, blocked_padding_blocks(p.rows, p.scale_cols));
  if (blocks > 0x7fffffff) blocks = 0x7fffffff;
  if (blocks < 1) blocks = 1;
  return Kernel::launch(p, blocks, stream);
}

// Staged kernel variants. tile: 1 = 128x64, 2 = 128x128, 3 = 256x64, 4 = 256x128 (M x N), 0 = kColwiseTile;
// stages: 2, 3, 4 (0 = kColwiseStages; 4 only for 16 KB tiles, larger tiles clamp to 3).
inline constexpr int kColwiseTile = 1;
inline constexpr int kColwiseStages = 3;
template <class Pol, int kTM, int kTN>
cudaError_t launch_colwise_staged(const QuantParams& p, int num_sms, int waves, int stages, cudaStream_t stream) {
  switch (stages) {
    case 2: return launch_colwise_with<ColwiseStaged<Pol, kTM, kTN, 2>, Pol>(p, num_sms, waves, stream);
    case 3: return launch_colwise_with<ColwiseStaged<Pol, kTM, kTN, 3>, Pol>(p, num_sms, waves, stream);
    default:
      if constexpr (kTM * kTN <= 128 * 64) {
        return launch_colwise_with<ColwiseStaged<Pol, kTM, kTN, 4>, Pol>(p, num_sms, waves, stream);
      } else {
        return launch_colwise_with<ColwiseStaged<Pol, kTM, kTN, 3>, Pol>(p, num_sms, waves, stream);
      }
  }
}

// TMA kernel variants: tile 1 = 128x64, 2 = 128x128, 3 = 256x64, 4 = 256x128 (0 = kTmaTile); stages 1..4
// (0 = kTmaStages; tiles of 64 KB clamp to 3).
inline constexpr int kTmaTile = 1;
inline constexpr int kTmaStages = 1;
template <class Pol, int kTM, int kTN, bool kStoreTma>
cudaError_t launch_colwise_tma(const QuantParams& p, int num_sms, const Tuning& t, cudaStream_t stream) {
  switch (t.stages == 0 ? kTmaStages : t.stages) {
    case 2: return ColwiseTma<Pol, kTM, kTN, 2, kStoreTma>::launch(p, num_sms, t.waves, t.l2promo, stream);
    case 3: return ColwiseTma<Pol, kTM, kTN, 3, kStoreTma>::launch(p, num_sms, t.waves, t.l2promo, stream);
    case 4:
      if constexpr (kTM * kTN <= 128 * 128) {
        return ColwiseTma<Pol, kTM, kTN, 4, kStoreTma>::launch(p, num_sms, t.waves, t.l2promo, stream);
      } else {
        return ColwiseTma<Pol, kTM, kTN, 3, kStoreTma>::launch(p, num_sms, t.waves, t.l2promo, stream);
      }
    default: return ColwiseTma<Pol, kTM, kTN, 1, kStoreTma>::launch(p, num_sms, t.waves, t.l2promo, stream);
  }
}
template <class Pol, bool kStoreTma>
cudaError_t launch_colwise_tma_tile(const QuantParams& p, int num_sms, const Tuning& t, cudaStream_t stream) {
  switch (t.tile == 0 ? kTmaTile : t.tile) {
    case 2: return launch_colwise_tma<Pol, 128, 128, kStoreTma>(p, num_sms, t, stream);
    case 3: return launch_colwise_tma<Pol, 256, 64, kStoreTma>(p, num_sms, t, stream);
    case 4: return launch_colwise_tma<Pol, 256, 128, kStoreTma>(p, num_sms, t, stream);
    default: return launch_colwise_tma<Pol, 128, 64, kStoreTma>(p, num_sms, t, stream);
  }
}

// Columnwise kernel choice (Tuning::kernel): 0 = kColwiseKernel; 1 = TMA; 2 = cp.async staged; 3 = TMA loads and
// TMA stores of the e4m3 tile. Only BF16 input with 16-byte aligned rows has a choice (kernel 3 also needs 16-byte
// aligned output rows, else it runs as 1); stages < 0 always picks the register-staged kernel. The TMA kernels
// index tiles with 32 bits: more tiles than that (> 2^31 x 8192 elements) take the staged kernel.
inline constexpr int kColwiseKernel = 3;
template <class In, class Pol>
cudaError_t launch_colwise(const QuantParams& p, int num_sms, const Tuning& t, cudaStream_t stream) {
  if constexpr (sizeof(typename In::T) == 2) {
    if (p.in_vec && t.stages >= 0) {
      const int kernel = t.kernel == 0 ? kColwiseKernel : t.kernel;
      const bool tiles32 = ((p.M + 127) / 128) * ((p.N + 63) / 64) < (int64_t{1} << 31);
      if (kernel == 3 && p.out_vec && tiles32) return launch_colwise_tma_tile<Pol, true>(p, num_sms, t, stream);
      if ((kernel == 1 || kernel == 3) && tiles32) return launch_colwise_tma_tile<Pol, false>(p, num_sms, t, stream);
      const int st = t.stages == 0 ? kColwiseStages : t.stages;
      switch (t.tile == 0 ? kColwiseTile : t.tile) {
        case 2: return launch_colwise_staged<Pol, 128, 128>(p, num_sms, t.waves, st, stream);
        case 3: return launch_colwise_staged<Pol, 256, 64>(p, num_sms, t.waves, st, stream);
        case 4: return launch_colwise_staged<Pol, 256, 128>(p, num_sms, t.waves, st, stream);
        default: return launch_colwise_staged<Pol, 128, 64>(p, num_sms, t.waves, st, stream);
      }
    }
  }
  return launch_colwise_with<ColwiseRegs<In, Pol>, Pol>(p, num_sms, t.waves, stream);
}

// Format dispatch: calls f.template operator()<Pol>() for the policy of `out` (validated already).
template <class F>
cudaError_t dispatch_format(const OutputSpec& out, F&& f) {
  switch (out.format) {
    case OutFormat::kG128FP32: return f.template operator()<G128Fp32>();
    case OutFormat::kG128UE8M0: return f.template operator()<G128Ue8m0>();
    default: break;
  }
  const bool floor = out.rule == ScaleRule::kFLOOR;
  const bool blocked = out.layout == ScaleLayout::kBlocked128x4;
  if (!floor && !blocked) return f.template operator()<MxFp8<ScaleRule::kRCEIL, ScaleLayout::kCompact>>();
  if (!floor && blocked) return f.template operator()<MxFp8<ScaleRule::kRCEIL, ScaleLayout::kBlocked128x4>>();
  if (floor && !blocked) return f.template operator()<MxFp8<ScaleRule::kFLOOR, ScaleLayout::kCompact>>();
  return f.template operator()<MxFp8<ScaleRule::kFLOOR, ScaleLayout::kBlocked128x4>>();
}

}  // namespace mxgemm::kernels::quant
