// mxgemm-bench --mode read (bench_read.cu): streaming reads of the small-M shapes' weight bytes beside the fused
// GEMM, same timing: how far the memory floor of PEERS.md is from what a kernel that only reads can reach.
#pragma once

#include <vector>

#include "bench.h"
#include "bench_gemm.h"

namespace mxgemm::bench {

// One row per shape with M <= 256 (others are skipped): mxgemm_us = the fastest reader of N*K bytes, peers
// {"fused_mxfp8_gemm": us}, extra = every reader's time, bytes, TB/s and the empty-launch event overhead.
std::vector<BenchRow> bench_read(const BenchContext& ctx, const std::vector<GemmShape>& shapes);

}  // namespace mxgemm::bench
