// Host dispatch of the GEMMs: validate -> choose config -> tensor maps -> launch (the last two in the launcher).
// No allocation and no synchronisation: every call is CUDA-graph capturable.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "host/gemm_configs.h"
#include "host/gemm_dispatch.h"
#include "host/validate_detail.h"
#include "kernels/gemm_launch.h"
#include "mxgemm/mxgemm.h"

namespace mxgemm {
namespace {

kernels::EpilogueKind epilogue_kind(const OutputSpec& out) {
  switch (out.format) {
    case OutFormat::kBF16: return kernels::EpilogueKind::kBF16;
    case OutFormat::kMXFP8: {
      const bool blocked = out.layout == ScaleLayout::kBlocked128x4;
      if (out.rule == ScaleRule::kRCEIL)
        return blocked ? kernels::EpilogueKind::kMXFP8RceilBlocked : kernels::EpilogueKind::kMXFP8RceilCompact;
      return blocked ? kernels::EpilogueKind::kMXFP8FloorBlocked : kernels::EpilogueKind::kMXFP8FloorCompact;
    }
    case OutFormat::kG128FP32: return kernels::EpilogueKind::kG128FP32;
    case OutFormat::kG128UE8M0: return kernels::EpilogueKind::kG128UE8M0;
  }
  return kernels::EpilogueKind::kCount;
}

bool debug_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("MXGEMM_DEBUG");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return enabled;
}

// MXGEMM_FORCE_TILE=BMxBN[xCLUSTER_M[xCLUSTER_N[xSPLIT_K]]] overrides the cost model (tuning and benchmarking aid;
// read once per process), e.g. 256x128x1x2 = the 256x128 tile in 2-CTA clusters along N sharing A, 128x64x1x1x2 =
// the 128x64 tile split over K in 2-CTA clusters. A malformed value fails every GEMM call (kInvalidArgument) rather
// than being ignored.
struct ForcedTile {
  bool set = false;
  host::TileSpec spec;
  std::string error;  // non-empty: the value is malformed (thrown by every call)
};
const ForcedTile& forced_tile_from_env() {
  static const ForcedTile forced = [] {
    ForcedTile f;
    try {
      f.set = host::forced_tile_from_env_value(std::getenv("MXGEMM_FORCE_TILE"), &f.spec);
    } catch (const Error& e) {
      f.error = e.what();
    }
    return f;
  }();
  return forced;
}

}  // namespace

namespace host {

void fp8_gemm_nt_with_tile(const GemmNTArgs& args, const TileSpec& forced, cudaStream_t stream) {
  const DeviceInfo dev = current_device_info();
  validate(args, dev);

  kernels::DenseProblem problem{args, dev.num_sms, debug_enabled()};
  GemmNTArgs& a = problem.args;
  a.lda = mxgemm::detail::resolved_lda(a);
  a.ldb = mxgemm::detail::resolved_ldb(a);
  a.ldsfa = mxgemm::detail::resolved_ldsfa(a.ldsfa, a.M);
  a.out.ld = mxgemm::detail::resolved_out_ld(a.out, a.N);

  host::TileChoice tile;
  const ForcedTile& env = forced_tile_from_env();
  if (forced.block_m != 0) {
    static_cast<TileSpec&>(tile) = forced;
    tile.why = "forced by the caller";
  } else if (!env.error.empty()) {
    throw Error(ErrorCode::kInvalidArgument, env.error);
  } else if (env.set) {
    static_cast<TileSpec&>(tile) = env.spec;
    tile.why = "MXGEMM_FORCE_TILE";
  } else {
    tile = host::choose_dense_tile(a.M, a.N, a.K, dev.num_sms, group_size(a.out.format));
  }
  const kernels::GemmLauncher launch = kernels::find_gemm_launcher(tile.block_m, tile.block_n, tile.cluster_m,
                                                                   tile.cluster_n, tile.split_k, epilogue_kind(a.out));
  if (launch == nullptr)
    throw Error(ErrorCode::kNotImplemented,
                "fp8_gemm_nt: no kernel compiled for tile " + describe_tile_spec(tile) +
                    " with out_format=" + to_string(a.out.format));
  if (debug_enabled())
    std::fprintf(stderr, "[mxgemm] fp8_gemm_nt M=%lld N=%lld K=%lld out=%s: tile %dx%d cluster %dx%d split-K %d, %s\n",
                 static_cast<long long>(a.M), static_cast<long long>(a.N), static_cast<long long>(a.K),
                 to_string(a.out.format), tile.block_m, tile.block_n, tile.cluster_m, tile.cluster_n, tile.split_k,
                 tile.describe().c_str());
  launch(problem, stream);
}

}  // namespace host

void fp8_gemm_nt(const GemmNTArgs& args, cudaStream_t stream) { host::fp8_gemm_nt_with_tile(args, {}, stream); }

void m_grouped_fp8_gemm_nt_contiguous(const GroupedContiguousArgs& args, cudaStream_t) {
  validate(args, current_device_info());
  throw Error(ErrorCode::kNotImplemented,
              "m_grouped_fp8_gemm_nt_contiguous: the grouped kernel is not implemented yet (arguments are valid)");
}

void m_grouped_fp8_gemm_nt_masked(const GroupedMaskedArgs& args, cudaStream_t) {
  validate(args, current_device_info());
  throw Error(ErrorCode::kNotImplemented,
              "m_grouped_fp8_gemm_nt_masked: the grouped kernel is not implemented yet (arguments are valid)");
}

}  // namespace mxgemm
