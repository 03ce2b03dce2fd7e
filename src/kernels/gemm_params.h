// Kernel-side parameter block and tile configurations of the SM90 FP8 GEMM. Shared by host dispatch (which fills
// it) and the kernels (which read it); plain data, no CUDA-only types.
#pragma once

#include <cstdint>

namespace mxgemm::kernels {

inline constexpr int kBlockK = 128;           // one K block = one 1x128 / 128x128 scale step = 128 e4m3 bytes
inline constexpr int kSmemBudget = 232448;    // max dynamic shared memory per block on SM90
inline constexpr int kMathWarpgroupRows = 64; // wgmma m64: one math warpgroup owns 64 rows of the tile

// Everything the kernel needs besides the tensor maps.
struct GemmParams {
  int32_t M = 0, N = 0, K = 0;
  int32_t num_k_blocks = 0;   // ceil(K / 128)
  int32_t num_m_blocks = 0, num_n_blocks = 0;
  const float* sfb = nullptr; // [ceil(N/128), num_k_blocks] row-major
  void* out_scales = nullptr; // e8m0 bytes (mxfp8) or FP32 (g128_*)
  int64_t scale_cols = 0;     // mxfp8: ceil(N/32) scale columns per row
  int64_t scale_ld = 0;       // g128: leading dimension of the MN-major scale matrix, pad(M,4)
  // Bytes one pipeline stage receives (the full barrier's expect-tx). When M < BLOCK_M the A and SFA boxes shrink to
  // pad(M, 8) rows: TMA boxes that are mostly out of bounds are slow (zero-filling 63 of 64 rows at M = 1), and the
  // rows they would fill only feed output rows >= M, which are never stored.
  uint32_t stage_tx_bytes = 0;
  // Launched with programmatic dependent launch (GemmNTArgs::pdl): the producer requests B before waiting for the
  // previous grid. (griddepcontrol.wait itself is a no-op without the launch attribute.)
  uint32_t pdl = 0;
};

// A tile configuration: BLOCK_M x BLOCK_N output tile, pipeline depth. Chosen by the host cost model.
struct TileConfig {
  int block_m;
  int block_n;
};

}  // namespace mxgemm::kernels
