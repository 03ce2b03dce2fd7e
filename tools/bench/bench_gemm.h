// mxgemm-bench "gemm" mode: mxgemm::fp8_gemm_nt per output format against cuBLASLt (same recipe, BF16 out) and
// cuBLASLt + mxgemm::quantize (the unfused pipeline), at the dense shapes of ../shared/PEERS.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench.h"
#include "bench_util.h"
#include "host/gemm_configs.h"
#include "mxgemm/mxgemm.h"

namespace mxgemm::bench {

struct GemmShape {
  int64_t M = 0, N = 0, K = 0;
};

struct OutFormatChoice {
  std::string name;  // "bf16", "mxfp8", "mxfp8_blocked", "mxfp8_floor", "g128_fp32", "g128_ue8m0"
  OutFormat format = OutFormat::kBF16;
  ScaleRule rule = ScaleRule::kRCEIL;
  ScaleLayout layout = ScaleLayout::kCompact;
};

// A tile configuration to time (--tiles): "auto" = the library's cost model (the public fp8_gemm_nt), or
// BMxBN[xCLUSTER_M[xCLUSTER_N[xSPLIT_K]]] forced through the internal dispatcher (rows then read "<format>@<tile>").
struct TileRequest {
  std::string name = "auto";
  host::TileSpec spec;  // block_m = 0: auto
  bool is_auto() const { return spec.block_m == 0; }
};
// Parses "auto" or BMxBN[xCMxCN[xSK]] (host::parse_tile_spec); false if malformed.
bool parse_tile(const std::string& text, TileRequest* out);

// The dense shapes of PEERS.md, in its order.
std::vector<GemmShape> peers_dense_shapes();
// All output formats above, in that order.
std::vector<OutFormatChoice> all_out_formats();
// Parses one format name; false if unknown.
bool parse_out_format(const std::string& name, OutFormatChoice* out);

// One row per (shape, tile, format), plus the ceiling rows first (op "ceiling_copy": extra copy_TBps; op
// "ceiling_cublaslt_fp8": 8192^3, extra tflops; two "ceiling_wgmma_fp8": the tensor cores alone, ~100 and ~400 us
// runs, extra tflops, see bench_ceiling.h) unless `ceilings` is false. A configuration mxgemm does not run
// yet (kNotImplemented, ...) gives a row with mxgemm_us = NaN (JSON null) and a note; peers are still timed.
// `peer_log`, if given, receives the cuBLASLt calibration log (operand order, scale layouts, errors).
// All measurements of one shape are interleaved over ctx.rounds rounds (see Interleaved in bench_gemm.cu).
std::vector<BenchRow> bench_gemm(const BenchContext& ctx, const std::vector<GemmShape>& shapes,
                                 const std::vector<OutFormatChoice>& formats,
                                 const std::vector<TileRequest>& tiles = {TileRequest{}}, bool ceilings = true,
                                 std::string* peer_log = nullptr);

// Bytes per output element of format f; bytes of its scale buffer for an output [rows, cols], padding included (0 for
// bf16; mirrors scale_elements() of the API so that the bench does not depend on it for sizing).
size_t elem_bytes(const OutFormatChoice& f);
size_t scale_buffer_bytes(const OutFormatChoice& f, int64_t rows, int64_t cols);
// The output description of format f over the given buffers (dense rows; no scales for bf16).
OutputSpec make_spec(const OutFormatChoice& f, void* data, void* scales);

// Random inputs of one shape (e4m3 sigma 2, scales log-uniform in [0.25, 4)), on the host (for the reference) and
// uploaded to the device.
struct GemmInputs {
  std::vector<uint8_t> a, b;
  std::vector<float> sfa, sfb;
  DeviceBuffer da, db, dsfa, dsfb;
};
GemmInputs make_gemm_inputs(const GemmShape& s, uint64_t seed);

// Lower bound on the time of the fused op (µs): max(FLOPs / 1979 TFLOP/s, fewest bytes / 3.0 TB/s), the H100
// numbers of PEERS.md. Also reports the fewest bytes.
double gemm_floor_us(const GemmShape& s, const OutFormatChoice& f, double* bytes = nullptr);

}  // namespace mxgemm::bench
