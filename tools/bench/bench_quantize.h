// mxgemm-bench quantize mode: the standalone quantizers (mxgemm::quantize) at the quant shapes of
// ../shared/PEERS.md and at >= 32M-element shapes, beside a device-to-device copy of the same bytes measured in the
// same run (the bandwidth ceiling).
#pragma once

#include <vector>

#include "bench.h"

namespace mxgemm::bench {

std::vector<BenchRow> bench_quantize(const BenchContext& ctx);

}  // namespace mxgemm::bench
