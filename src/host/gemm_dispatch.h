// Host-internal GEMM entry points for tests and the bench: run a dense GEMM with a forced tile config
// (block_m = 0 lets the cost model choose, as the public fp8_gemm_nt does; cluster_m / cluster_n = CTAs per
// cluster along M sharing B / along N sharing A).
#pragma once

#include "mxgemm/mxgemm.h"

namespace mxgemm::host {

void fp8_gemm_nt_with_tile(const GemmNTArgs& args, int block_m, int block_n, int cluster_m, int cluster_n,
                           cudaStream_t stream);

}  // namespace mxgemm::host
