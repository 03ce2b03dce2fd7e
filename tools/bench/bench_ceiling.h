// The tensor-core ceiling as a kernel sees it under this machine's power cap (bench_ceiling.cu).
#pragma once

#include "bench.h"

namespace mxgemm::bench {

struct WgmmaCeiling {
  double tflops = 0;          // steady-state FP8 FLOP/s, TFLOP/s: the FLOPs of `iterations` over t(2x) - t(1x)
  double tflops_whole = 0;    // FLOPs over t(1x) alone (with the launch, the ramp and the event overhead)
  double us = 0;              // t(1x): events around one launch, median
  double us_double = 0;       // t(2x): the same with twice the iterations
  long long iterations = 0;   // K steps of 128 per wave in the 1x run
};

// FP8 wgmma throughput with no memory traffic: one CTA per SM, two math warpgroups issuing the GEMM's own instruction
// (m64n128k32 e4m3, both operands in shared memory, 128B swizzle) back to back on random e4m3 data (the same data
// distribution as the GEMM rows: power depends on it), accumulating without promotion; sized to run about
// `target_us` (the power-capped clock depends on how long the load lasts). The steady rate comes from two runs (N and
// 2N iterations), so the launch, the first wgmma's latency and the event overhead (3-6 us, bench.h) cancel.
WgmmaCeiling wgmma_ceiling(const BenchContext& ctx, double target_us);

}  // namespace mxgemm::bench
