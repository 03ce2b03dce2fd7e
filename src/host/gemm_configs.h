// Host: the tile configurations compiled into the library and the cost model that picks one per problem.
#pragma once

#include <cstdint>
#include <string>

#include "mxgemm/mxgemm.h"

namespace mxgemm::host {

// A tile configuration by name: BMxBN[xCLUSTER_M[xCLUSTER_N[xSPLIT_K]]] (MXGEMM_FORCE_TILE, the bench's --tiles,
// the tests). block_m = 0: none (the cost model chooses).
struct TileSpec {
  int block_m = 0, block_n = 0;
  int cluster_m = 1, cluster_n = 1;  // CTAs per cluster along M sharing B / along N sharing A (TMA multicast)
  int split_k = 1;                   // CTAs (one cluster) computing each output tile over shares of K
};

// Parses 2 to 5 positive integers separated by 'x' and nothing else ("256x128x" and "1x2x3x4x5x6" are refused).
// Returns false (and leaves *out alone) if `text` is malformed; whether such a kernel is compiled in is checked at
// launch.
bool parse_tile_spec(const std::string& text, TileSpec* out);
// "BMxBN cluster CMxCN split-K S", for messages.
std::string describe_tile_spec(const TileSpec& t);

// The value of MXGEMM_FORCE_TILE: nullptr or "" = not set (returns false); a tile spec (returns true, *out set);
// anything else throws Error(kInvalidArgument) naming the value and the expected form.
bool forced_tile_from_env_value(const char* value, TileSpec* out);

// The cost model's pick: the tile (see TileSpec) and why.
struct TileChoice : TileSpec {
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
