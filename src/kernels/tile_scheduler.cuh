// Persistent tile schedulers. A scheduler hands each CTA its sequence of output tiles; the producer and the math
// warpgroups of a CTA walk the same sequence independently (the shared-memory ring keeps them in step).
// Grouped (MoE) layouts slot in as other schedulers with the same next() contract plus row addressing.
#pragma once

#include <cstdint>

namespace mxgemm::kernels {

// Dense GEMM: tiles in an L2-friendly "grouped raster" order. Consecutive tile indices (which run at the same
// time on different SMs) sweep kGroupM M-blocks for each N-block, so a wave touches about kGroupM A-panels and
// (132 / kGroupM) B-panels instead of 1 A-panel and 132 B-panels (or the reverse).
template <int kGroupM = 8>
struct DenseTileScheduler {
  int num_m_blocks, num_n_blocks, num_tiles;
  int next_tile;

  __device__ __forceinline__ DenseTileScheduler(int m_blocks, int n_blocks)
      : num_m_blocks(m_blocks), num_n_blocks(n_blocks), num_tiles(m_blocks * n_blocks),
        next_tile(static_cast<int>(blockIdx.x)) {}

  __device__ __forceinline__ bool next(int& m_block, int& n_block) {
    const int tile = next_tile;
    if (tile >= num_tiles) return false;
    next_tile += static_cast<int>(gridDim.x);
    const int tiles_per_group = kGroupM * num_n_blocks;
    const int group = tile / tiles_per_group;
    const int first_m = group * kGroupM;
    const int group_rows = min(num_m_blocks - first_m, kGroupM);
    const int in_group = tile - group * tiles_per_group;
    m_block = first_m + in_group % group_rows;
    n_block = in_group / group_rows;
    return true;
  }
};

}  // namespace mxgemm::kernels
