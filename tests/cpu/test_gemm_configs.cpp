// The GEMM tile cost model (src/host/gemm_configs.cpp) against the tiles that measured fastest on the H100 for the
// PEERS.md dense shapes (MXGEMM_FORCE_TILE sweeps, bench/results/2026-11-25-h100-gemm-tile-*.json and
// -gemm-s2-tile-*.json for 256x128), and its rules.
#include <gtest/gtest.h>

#include "host/gemm_configs.h"

namespace mxgemm::host {
namespace {

struct Expect {
  int64_t M, N, K;
  int block_m, block_n;
};

TEST(GemmTileModel, PicksTheMeasuredBestTileAtPeersShapes) {
  const Expect cases[] = {
      {1, 7168, 2048, 64, 64},       {128, 7168, 2048, 128, 64},    {256, 7168, 2048, 128, 128},
      {128, 4096, 7168, 64, 64},     {256, 4096, 7168, 128, 64},    {4096, 7168, 2048, 256, 128},
      {4096, 4096, 7168, 256, 128},  {8192, 7168, 2048, 256, 128},
  };
  for (const Expect& e : cases) {
    const TileChoice t = choose_dense_tile(e.M, e.N, e.K, 132, 32);
    EXPECT_EQ(t.block_m, e.block_m) << e.M << "x" << e.N << "x" << e.K << ": " << t.describe();
    EXPECT_EQ(t.block_n, e.block_n) << e.M << "x" << e.N << "x" << e.K << ": " << t.describe();
    EXPECT_EQ(t.cluster_m * t.cluster_n, 1) << "clusters are opt-in until they measure faster";
    EXPECT_NE(std::string(t.why), "");
  }
}

TEST(GemmTileModel, G128OutputsKeepTheScaleGroupInsideOneTile) {
  for (int64_t M : {1, 64, 200, 4096}) {
    const TileChoice t = choose_dense_tile(M, 7168, 2048, 132, 128);
    EXPECT_EQ(t.block_n % 128, 0) << "M=" << M;
  }
}

TEST(GemmTileModel, NeverPicksATileThatIsNotCompiled) {
  // Compiled: 64x64, 128x64, 128x128 (+x2), 256x128 for every epilogue; 64x128 only for g128
  // (scripts/gen_gemm_instances.py).
  for (int64_t M : {1, 17, 64, 65, 128, 300, 1024, 8192})
    for (int64_t N : {32, 96, 1280, 7168}) {
      const TileChoice t = choose_dense_tile(M, N, 512, 132, 32);
      const bool ok = (t.block_m == 64 && t.block_n == 64) || (t.block_m == 128 && (t.block_n == 64 || t.block_n == 128)) ||
                      (t.block_m == 256 && t.block_n == 128);
      EXPECT_TRUE(ok) << M << "x" << N << " -> " << t.block_m << "x" << t.block_n;
    }
}

}  // namespace
}  // namespace mxgemm::host
