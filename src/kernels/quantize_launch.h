// Host-side entry points of the standalone quantizer kernels (src/kernels/quantize_*.cu), used by
// src/host/quantize.cu and by the benchmark (which times tuning variants). Arguments are validated by the caller.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "mxgemm/mxgemm.h"

namespace mxgemm::kernels::quant {

inline constexpr int kThreads = 256;           // every quantizer block
inline constexpr int kChunk = 16;              // elements per thread chunk: 16 bytes of e4m3 output
inline constexpr int kWarpSpan = 32 * kChunk;  // rowwise: elements of a row per warp work item

// Everything a launch needs, resolved on the host (strides in elements, defaults applied).
struct QuantParams {
  const void* x = nullptr;
  int64_t M = 0, N = 0, ldx = 0;  // input [M, N]
  uint8_t* q = nullptr;           // e4m3 output [rows, cols], row stride ldq
  int64_t ldq = 0;
  int64_t rows = 0, cols = 0;     // output shape: [M, N] rowwise, [N, M] columnwise
  void* scales = nullptr;
  int64_t scale_ld = 0;    // compact: ceil(cols/32); g128: pad(rows, 4)
  int64_t scale_cols = 0;  // scale columns of the output: ceil(cols / group)
  bool in_vec = true;      // x and ldx allow 16-byte loads
  bool out_vec = true;     // q and ldq allow 16-byte stores
  int raster_n = 0;        // columnwise: n-tiles per raster group (Tuning::raster; 0 = 1 KB of input row)
  bool evict_first = false;  // columnwise TMA kernels: e4m3 data stores with the L2 evict-first policy (Tuning::evict)
  bool scales_evict_last = true;  // columnwise TMA kernels: scale stores with the L2 evict-last policy (Tuning)
  bool loads_evict_first = false;  // columnwise TMA kernels: input tile loads with the L2 evict-first policy (Tuning)
};

// Launch shape knobs. The defaults are what mxgemm::quantize() uses.
struct Tuning {
  int unroll = 2;  // rowwise: 512-element work items per warp loaded before any is processed (1, 2, 4)
  // Grid. Rowwise: 0 = one block per 8 x unroll work items, no cap (measured best on the H100: 97% of copy
  // at 8192x7168 vs 92% persistent); > 0 = persistent, SMs x resident blocks x waves. Columnwise TMA kernel: 0 = each
  // block takes `stages` tiles, as many blocks as that needs; > 0 = persistent. The other columnwise kernels always
  // run persistent (waves <= 0 counts as 1 for them).
  int waves = 0;
  // Columnwise BF16 with 16-byte aligned rows: tiles in flight per block, i.e. the ring depth (TMA kernel: 1..4,
  // 0 = default 1; cp.async staged kernel: 2..4, 0 = default 3); -1 = the register-staged kernel (what FP32 input
  // and unaligned rows always use).
  int stages = 0;
  // Columnwise tile raster: n-tiles per group (0 = default: 1 KB of each input row, 8 bf16 / 4 fp32 tiles;
  // 1 = m-tiles fastest, the first order).
  int raster = 0;
  // Columnwise BF16 tile (M x N) of the TMA and staged kernels: 1 = 128x64, 2 = 128x128, 3 = 256x64, 4 = 256x128;
  // 0 = default (128x64).
  int tile = 0;
  // Columnwise BF16 kernel: 0 = default (3), 1 = TMA loads (cp.async.bulk.tensor into a 128-byte-swizzled tile,
  // mbarrier completion) + 16-byte stores from the threads, 2 = cp.async staged ring (the default before the TMA
  // kernels), 3 = TMA loads + TMA stores of the e4m3 tile through shared memory (needs 16-byte aligned output rows,
  // else it runs as 1).
  int kernel = 0;
  // TMA kernels: L2 promotion of the input tile loads (tensor map): 0 = 256 B (default), 1 = none, 2 = 64 B, 3 = 128 B.
  int l2promo = 0;
  // TMA kernels: 1 = the e4m3 data stores carry the L2 evict-first policy (written once, never read here).
  int evict = 0;
  // Columnwise TMA kernels: 0 = the scale stores carry the L2 evict-last policy (default: compact e8m0 writes 4 bytes
  // of a row per tile, and lines evicted half-written are written back to DRAM more than once), 1 = no policy.
  int scale_hint = 0;
  // Columnwise TMA kernels: 1 = the input tile loads carry the L2 evict-first policy (read once), 0 = none.
  int load_hint = 0;
};

cudaError_t run_rowwise_bf16(const QuantParams& p, const OutputSpec& out, int num_sms, const Tuning& t,
                             cudaStream_t stream);
cudaError_t run_rowwise_fp32(const QuantParams& p, const OutputSpec& out, int num_sms, const Tuning& t,
                             cudaStream_t stream);
cudaError_t run_colwise(InputType type, const QuantParams& p, const OutputSpec& out, int num_sms, const Tuning& t,
                        cudaStream_t stream);
cudaError_t run_sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src, float* dst,
                                cudaStream_t stream);

}  // namespace mxgemm::kernels::quant

namespace mxgemm::detail {
// mxgemm::quantize with explicit launch knobs (validates exactly as quantize does).
void quantize_tuned(const QuantizeArgs& args, const kernels::quant::Tuning& tuning, cudaStream_t stream);
}  // namespace mxgemm::detail
