// The ahead-of-time instance table (scripts/gen_gemm_instances.py -> src/kernels/gemm_registry.cpp): every tile the
// cost model can pick is compiled for every epilogue that accepts it, and a combination that is not compiled comes
// back as nullptr (the dispatcher turns that into kNotImplemented instead of launching anything).
#include <gtest/gtest.h>

#include "host/gemm_configs.h"
#include "kernels/gemm_launch.h"

namespace mxgemm::kernels {
namespace {

constexpr EpilogueKind kAll[] = {EpilogueKind::kBF16,          EpilogueKind::kMXFP8RceilCompact,
                                 EpilogueKind::kMXFP8RceilBlocked, EpilogueKind::kMXFP8FloorCompact,
                                 EpilogueKind::kMXFP8FloorBlocked, EpilogueKind::kG128FP32,
                                 EpilogueKind::kG128UE8M0};

bool is_g128(EpilogueKind e) { return e == EpilogueKind::kG128FP32 || e == EpilogueKind::kG128UE8M0; }

TEST(GemmRegistry, EveryTileTheModelPicksIsCompiled) {
  for (EpilogueKind e : kAll)
    for (int64_t M : {1, 17, 64, 65, 128, 256, 300, 4096, 8192})
      for (int64_t N : {32, 96, 1280, 4096, 7168})
        for (int64_t K : {16, 2048, 7168}) {
          const host::TileChoice t = host::choose_dense_tile(M, N, K, 132, is_g128(e) ? 128 : 32);
          EXPECT_NE(find_gemm_launcher(t.block_m, t.block_n, t.cluster_m, t.cluster_n, t.split_k, e), nullptr)
              << "epilogue " << static_cast<int>(e) << " tile " << t.block_m << "x" << t.block_n << " cluster "
              << t.cluster_m << "x" << t.cluster_n << " split-K " << t.split_k;
        }
}

TEST(GemmRegistry, UncompiledCombinationsAreNull) {
  // g128 needs a 128-wide tile; clusters along M only for 128x128 and 256x128, along N
  // only for 256x128, never both; no 256-wide (BLOCK_N) tiles.
  EXPECT_EQ(find_gemm_launcher(128, 64, 1, 1, 1, EpilogueKind::kG128FP32), nullptr);
  EXPECT_EQ(find_gemm_launcher(64, 64, 1, 1, 1, EpilogueKind::kG128UE8M0), nullptr);
  EXPECT_EQ(find_gemm_launcher(128, 64, 2, 1, 1, EpilogueKind::kMXFP8RceilCompact), nullptr);
  EXPECT_EQ(find_gemm_launcher(128, 256, 1, 1, 1, EpilogueKind::kBF16), nullptr);
  EXPECT_EQ(find_gemm_launcher(128, 128, 1, 1, 1, EpilogueKind::kCount), nullptr);
  EXPECT_EQ(find_gemm_launcher(128, 128, 1, 2, 1, EpilogueKind::kBF16), nullptr);
  EXPECT_EQ(find_gemm_launcher(256, 128, 2, 2, 1, EpilogueKind::kBF16), nullptr);
  EXPECT_NE(find_gemm_launcher(128, 128, 2, 1, 1, EpilogueKind::kG128FP32), nullptr);
  for (EpilogueKind e : kAll) EXPECT_NE(find_gemm_launcher(64, 128, 1, 1, 1, e), nullptr) << static_cast<int>(e);
  EXPECT_NE(find_gemm_launcher(256, 128, 1, 1, 1, EpilogueKind::kMXFP8FloorBlocked), nullptr);
  EXPECT_NE(find_gemm_launcher(256, 128, 2, 1, 1, EpilogueKind::kBF16), nullptr);
  for (EpilogueKind e : kAll) EXPECT_NE(find_gemm_launcher(256, 128, 1, 2, 1, e), nullptr) << static_cast<int>(e);
  // 192x128 (three math warpgroups) for every epilogue, without clusters or split-K.
  for (EpilogueKind e : kAll) EXPECT_NE(find_gemm_launcher(192, 128, 1, 1, 1, e), nullptr) << static_cast<int>(e);
  EXPECT_EQ(find_gemm_launcher(192, 128, 2, 1, 1, EpilogueKind::kBF16), nullptr);
  EXPECT_EQ(find_gemm_launcher(192, 128, 1, 1, 2, EpilogueKind::kBF16), nullptr);
  EXPECT_EQ(find_gemm_launcher(192, 64, 1, 1, 1, EpilogueKind::kBF16), nullptr);
  EXPECT_EQ(find_gemm_launcher(256, 64, 1, 1, 1, EpilogueKind::kBF16), nullptr);
}

TEST(GemmRegistry, SplitKTilesOnlyForOneWaveTilesWithoutSharing) {
  // Split-K clusters of 2 or 4 CTAs: 64x64 (not g128), 128x64 (2 only, not g128), 128x128 (2 only, rank 0's reduce
  // buffer is 64 KB per peer), 64x128 (2 for every epilogue, 4 for g128); never with operand sharing, never for the
  // two-wave 256x128 tile.
  for (EpilogueKind e : kAll) {
    const bool g128 = is_g128(e);
    EXPECT_EQ(find_gemm_launcher(64, 64, 1, 1, 2, e) != nullptr, !g128) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(64, 64, 1, 1, 4, e) != nullptr, !g128) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(128, 64, 1, 1, 2, e) != nullptr, !g128) << static_cast<int>(e);
    EXPECT_NE(find_gemm_launcher(64, 128, 1, 1, 2, e), nullptr) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(64, 128, 1, 1, 4, e) != nullptr, g128) << static_cast<int>(e);
    EXPECT_NE(find_gemm_launcher(128, 128, 1, 1, 2, e), nullptr) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(128, 128, 1, 1, 4, e), nullptr) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(256, 128, 1, 1, 2, e), nullptr) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(128, 128, 2, 1, 2, e), nullptr) << static_cast<int>(e);
    EXPECT_EQ(find_gemm_launcher(64, 64, 1, 1, 3, e), nullptr) << static_cast<int>(e);
  }
}

}  // namespace
}  // namespace mxgemm::kernels
