// Host: the tile configurations compiled into the library and the cost model that picks one per problem.
#pragma once

#include <cstdint>
#include <string>

namespace mxgemm::host {

struct TileChoice {
  int block_m = 0, block_n = 0;
  int cluster_m = 1;       // CTAs per cluster along M sharing the B tile (TMA multicast)
  int cluster_n = 1;       // CTAs per cluster along N sharing the A tile (TMA multicast)
  double modelled_us = 0;  // the cost model's estimate (for ranking, not a promise)
  const char* why = "";    // the table's reason for this tile (a static string: no formatting in the launch path)
  int64_t tiles = 0, waves = 0;
  double mma_us = 0, hbm_us = 0, l2_us = 0;  // the model's three terms

  // A readable account of the choice, for MXGEMM_DEBUG=1 and tests (formatted only when asked for).
  std::string describe() const;
};

// Picks BLOCK_M x BLOCK_N for a dense M x N x K problem on `num_sms` SMs. `group` is the epilogue's scale group
// (0, 32 or 128): a group must lie inside one tile, so g128 outputs need BLOCK_N = 128.
TileChoice choose_dense_tile(int64_t M, int64_t N, int64_t K, int num_sms, int group);

}  // namespace mxgemm::host
