// Persistent tile schedulers. A scheduler hands each CTA its sequence of output tiles; the producer and the math
// warpgroups of a CTA walk the same sequence independently (the shared-memory ring keeps them in step).
// Grouped (MoE) layouts slot in as other schedulers with the same next() contract plus row addressing.
#pragma once

#include <cstdint>

namespace mxgemm::kernels {

// Dense GEMM: tiles in an L2-friendly "grouped raster" order. Consecutive tile indices (which run at the same
// time on different SMs) sweep kGroupM M-blocks for each N-block, so a wave touches about kGroupM A-panels and
// (132 / kGroupM) B-panels instead of 1 A-panel and 132 B-panels (or the reverse).
//
// With clusters (kClusterM > 1) the unit of work is a column of kClusterM vertically adjacent tiles (same N-block):
// CTA rank r of the cluster takes M-block kClusterM * unit_m + r, and the cluster shares the B tile through TMA
// multicast. When the M-blocks do not divide evenly, the last unit's surplus ranks get m_block >= num_m_blocks:
// they still take part in the loads (their A box is out of bounds, zero-filled) but write nothing.
template <int kClusterM, int kGroupM = 8>
struct DenseTileScheduler {
  int num_m_units, num_n_blocks, num_units;
  int next_unit;
  int rank;

  __device__ __forceinline__ DenseTileScheduler(int m_blocks, int n_blocks, int cta_rank)
      : num_m_units((m_blocks + kClusterM - 1) / kClusterM), num_n_blocks(n_blocks),
        num_units(num_m_units * n_blocks), next_unit(static_cast<int>(blockIdx.x) / kClusterM), rank(cta_rank) {}

  __device__ __forceinline__ bool next(int& m_block, int& n_block) {
    const int unit = next_unit;
    if (unit >= num_units) return false;
    next_unit += static_cast<int>(gridDim.x) / kClusterM;
    constexpr int kGroupUnits = kGroupM / kClusterM > 0 ? kGroupM / kClusterM : 1;
    const int units_per_group = kGroupUnits * num_n_blocks;
    const int group = unit / units_per_group;
    const int first_m = group * kGroupUnits;
    const int group_rows = min(num_m_units - first_m, kGroupUnits);
    const int in_group = unit - group * units_per_group;
    m_block = (first_m + in_group % group_rows) * kClusterM + rank;
    n_block = in_group / group_rows;
    return true;
  }
};

}  // namespace mxgemm::kernels
