// Persistent tile schedulers. A scheduler hands each CTA its sequence of output tiles; the producer and the math
// warpgroups of a CTA walk the same sequence independently (the shared-memory ring keeps them in step).
// Grouped (MoE) layouts slot in as other schedulers with the same next() contract plus row addressing.
#pragma once

#include <cstdint>

// Host and device: the schedulers are integer arithmetic over the CTA's index and the grid size, which come from a
// Grid policy (blockIdx.x / gridDim.x in kernels; set by the CPU tests, which enumerate every CTA's sequence).
#if defined(__CUDACC__)
#define MXGEMM_SCHEDULER_FN __host__ __device__ __forceinline__
#else
#define MXGEMM_SCHEDULER_FN inline
#endif

namespace mxgemm::kernels {

#if defined(__CUDACC__)
struct KernelGrid {
  __device__ __forceinline__ static int cta_index() { return static_cast<int>(blockIdx.x); }
  __device__ __forceinline__ static int num_ctas() { return static_cast<int>(gridDim.x); }
};
// Split-K clusters: the kCtasPerTile CTAs of a cluster (consecutive blockIdx.x) take the same tiles, so the
// scheduler sees one slot per cluster.
template <int kCtasPerTile>
struct SplitKGrid {
  __device__ __forceinline__ static int cta_index() { return static_cast<int>(blockIdx.x) / kCtasPerTile; }
  __device__ __forceinline__ static int num_ctas() { return static_cast<int>(gridDim.x) / kCtasPerTile; }
};
#else
struct KernelGrid;  // only defined where kernels are compiled
#endif

// Dense GEMM: tiles in an L2-friendly "grouped raster" order. Consecutive tile indices (which run at the same
// time on different SMs) sweep kGroupM M-blocks for each N-block, so a wave touches about kGroupM A-panels and
// (132 / kGroupM) B-panels instead of 1 A-panel and 132 B-panels (or the reverse).
//
// With 2-CTA clusters the unit of work is a pair of adjacent tiles: along M (kClusterM = 2, same N block, sharing
// B) or along N (kClusterN = 2, same M block, sharing A). CTA rank r of the cluster takes the pair's r-th tile.
// When the blocks do not divide evenly, the last pair's surplus rank gets m_block >= num_m_blocks (or
// n_block >= num_n_blocks): it still takes part in the loads (its half of the shared box is out of bounds and
// zero-filled, or the peer needs it) but writes nothing.
//
// Partial row last (`partial_row_last`, 1-CTA tiles only): when the last row of tiles is cheaper than the others
// (the wave kernels skip the wgmma of warpgroups whose rows all lie past M), the full rows are rastered first and the
// last row's tiles are dealt after them, so the round-robin tops up the CTAs that drew one full tile fewer with the
// cheaper ones (192x128 forced at M = 4096: 21 full rows + one of 64 rows, dealt as 9 full tiles + at most one
// partial per CTA instead of up to 10 tiles in the raster order; measured, a partial tile still costs most of a full
// one, which is why the cost model takes 192x128 only when 192 divides M or its tiles fit in one wave).
template <int kClusterM, int kClusterN = 1, int kGroupM = 8, class Grid = KernelGrid>
struct DenseTileScheduler {
  static constexpr int kClusterSize = kClusterM * kClusterN;
  int num_m_units, num_n_units, num_units;
  int raster_m_units;  // rows of units in the grouped raster (all, or all but the last with partial_row_last)
  int next_unit;
  int rank;

  MXGEMM_SCHEDULER_FN DenseTileScheduler(int m_blocks, int n_blocks, int cta_rank, bool partial_row_last = false)
      : num_m_units((m_blocks + kClusterM - 1) / kClusterM), num_n_units((n_blocks + kClusterN - 1) / kClusterN),
        num_units(num_m_units * num_n_units),
        raster_m_units(partial_row_last && kClusterSize == 1 && num_m_units > 1 ? num_m_units - 1 : num_m_units),
        next_unit(Grid::cta_index() / kClusterSize), rank(cta_rank) {}

  MXGEMM_SCHEDULER_FN bool next(int& m_block, int& n_block) {
    const int unit = next_unit;
    if (unit >= num_units) return false;
    next_unit += Grid::num_ctas() / kClusterSize;
    const int raster_units = raster_m_units * num_n_units;
    if (unit >= raster_units) {  // the last row, dealt after the grouped raster of the others
      m_block = num_m_units - 1;
      n_block = unit - raster_units;
      return true;
    }
    constexpr int kGroupUnits = kGroupM / kClusterM > 0 ? kGroupM / kClusterM : 1;
    const int units_per_group = kGroupUnits * num_n_units;
    const int group = unit / units_per_group;
    const int first_m = group * kGroupUnits;
    const int group_rows = raster_m_units - first_m < kGroupUnits ? raster_m_units - first_m : kGroupUnits;
    const int in_group = unit - group * units_per_group;
    m_block = (first_m + in_group % group_rows) * kClusterM + (kClusterM > 1 ? rank : 0);
    n_block = (in_group / group_rows) * kClusterN + (kClusterN > 1 ? rank : 0);
    return true;
  }
};

}  // namespace mxgemm::kernels
