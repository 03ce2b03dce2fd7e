// Host-internal GEMM entry points for tests and the bench: run a dense GEMM with a forced tile config
// (block_m = 0 lets the cost model choose, as the public fp8_gemm_nt does; see TileSpec for the fields).
#pragma once

#include "host/gemm_configs.h"
#include "mxgemm/mxgemm.h"

namespace mxgemm::host {

// Throws Error(kNotImplemented) if the tile is not compiled in for the output format, with nothing launched.
void fp8_gemm_nt_with_tile(const GemmNTArgs& args, const TileSpec& tile, cudaStream_t stream);

}  // namespace mxgemm::host
