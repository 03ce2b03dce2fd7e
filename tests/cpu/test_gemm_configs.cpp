// The GEMM tile cost model (src/host/gemm_configs.cpp) against the tiles that measured fastest on the H100 for the
// PEERS.md dense shapes (MXGEMM_FORCE_TILE sweeps, bench/results/2026-11-25-h100-gemm-tile-*.json,
// -gemm-s2-tile-*.json for 256x128, -gemm-s9-t64x128-sweep.json for small M), and its rules.
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
      {1, 7168, 2048, 64, 64},       {256, 7168, 2048, 128, 128},   {128, 4096, 7168, 64, 64},
      {4096, 7168, 2048, 256, 128},  {4096, 4096, 7168, 256, 128},  {8192, 7168, 2048, 256, 128},
      // 64x128 (one m64n128 warpgroup) at M ~ 128-256 (bench/results/2026-11-25-h100-gemm-s9-t64x128-sweep.json,
      // mxfp8 graph: 128x7168x2048 10.1 us vs 128x64 11.2; 256x4096x7168 19.2 vs 128x64 21.0; 192x4096x7168 18.6
      // vs 64x64 24.6 and 128x64 26.6); 64x64 stays where it has twice the tiles in one wave (64x4096x7168 16.2 vs
      // 18.2) and 128x128 at 192-256 rows with K = 2048 (192x7168x2048 11.6 vs 12.9).
      {128, 7168, 2048, 64, 128},    {256, 4096, 7168, 64, 128},    {192, 4096, 7168, 64, 128},
      {64, 4096, 7168, 64, 64},      {192, 7168, 2048, 128, 128},
      // 192x128 where its waves are fuller (bench/results/2026-11-25-h100-gemm-s8-*: 6144x7168x2048 bf16 154 vs
      // 160 us events); at the three large PEERS.md shapes 256x128 stays ahead or level.
      {6144, 7168, 2048, 192, 128},  {3072, 7168, 2048, 192, 128},
      // ... but not where 192 leaves a partial last row (bench/results/2026-11-25-h100-gemm-s8-model-sweep.json:
      // 2048x7168x2048 128x128 54.4 us, 192x128 60.3, 256x128 60.1; graph)
      {2048, 7168, 2048, 128, 128},
      // ... unless all its tiles run in one wave (bench/results/2026-11-25-h100-gemm-s9-model-mid-m.json, mxfp8 graph:
      // 320x7168x2048 14.5 us vs 64x128 16.3; 640x4096x7168 41.8 vs 64x128 46.1)
      {320, 7168, 2048, 192, 128},   {640, 4096, 7168, 192, 128},
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
  // Compiled for every epilogue: 64x64, 64x128, 128x64, 128x128 (+x2), 192x128, 256x128
  // (scripts/gen_gemm_instances.py).
  for (int64_t M : {1, 17, 64, 65, 128, 300, 1024, 8192})
    for (int64_t N : {32, 96, 1280, 7168}) {
      const TileChoice t = choose_dense_tile(M, N, 512, 132, 32);
      const bool ok = ((t.block_m == 64 || t.block_m == 128) && (t.block_n == 64 || t.block_n == 128)) ||
                      ((t.block_m == 256 || t.block_m == 192) && t.block_n == 128);
      EXPECT_TRUE(ok) << M << "x" << N << " -> " << t.block_m << "x" << t.block_n;
    }
}

}  // namespace
}  // namespace mxgemm::host

namespace mxgemm::host {
namespace {

TEST(GemmTileModel, SplitKOnlyWhereTheTilesLeaveMostSmsIdle) {
  // Measured (bench/results/2026-11-25-h100-gemm-s4-prefetch0-*.json): 64x64 split 2 wins at 16x2048x7168 (32
  // tiles), loses at 64x4096x7168 (64 tiles) and at every PEERS.md shape.
  TileChoice t = choose_dense_tile(16, 2048, 7168, 132, 32);
  EXPECT_EQ(t.block_m, 64);
  EXPECT_EQ(t.block_n, 64);
  EXPECT_EQ(t.split_k, 2) << t.describe();
  t = choose_dense_tile(16, 2048, 7168, 132, 128);
  EXPECT_EQ(t.block_n, 128);
  EXPECT_EQ(t.split_k, 2) << t.describe();
  EXPECT_EQ(choose_dense_tile(64, 4096, 7168, 132, 32).split_k, 1);
  EXPECT_EQ(choose_dense_tile(16, 2048, 1024, 132, 32).split_k, 1) << "short K: not worth a reduction";
  for (int64_t M : {1, 128, 256, 4096, 8192})
    for (int64_t N : {4096, 7168})
      for (int64_t K : {2048, 7168}) EXPECT_EQ(choose_dense_tile(M, N, K, 132, 32).split_k, 1) << M << "x" << N << "x" << K;
}

TEST(TileSpecParse, AcceptsTwoToFiveFields) {
  TileSpec t;
  ASSERT_TRUE(parse_tile_spec("256x128", &t));
  EXPECT_EQ(t.block_m, 256);
  EXPECT_EQ(t.block_n, 128);
  EXPECT_EQ(t.cluster_m, 1);
  EXPECT_EQ(t.cluster_n, 1);
  EXPECT_EQ(t.split_k, 1);
  ASSERT_TRUE(parse_tile_spec("256x128x1x2", &t));
  EXPECT_EQ(t.cluster_n, 2);
  EXPECT_EQ(t.split_k, 1);
  ASSERT_TRUE(parse_tile_spec("128x64x1x1x4", &t));
  EXPECT_EQ(t.block_m, 128);
  EXPECT_EQ(t.block_n, 64);
  EXPECT_EQ(t.split_k, 4);
  EXPECT_EQ(describe_tile_spec(t), "128x64 cluster 1x1 split-K 4");
}

TEST(TileSpecParse, RefusesMalformedAndLeavesTheOutputAlone) {
  for (const char* bad : {"", "256", "256x", "256x128x", "x128", "256x128x1x2x3x4", "256x0", "256x-1", "256X128",
                          "256x128 ", " 256x128", "256x128x1x2x", "1234567x1", "auto", "256x128,128x128"}) {
    TileSpec t{7, 7, 7, 7, 7};
    EXPECT_FALSE(parse_tile_spec(bad, &t)) << "'" << bad << "'";
    EXPECT_EQ(t.block_m, 7) << "'" << bad << "'";
    EXPECT_EQ(t.split_k, 7) << "'" << bad << "'";
  }
}

TEST(ForcedTileEnv, UnsetParsedOrRejectedWithTheValue) {
  TileSpec t{7, 7, 7, 7, 7};
  EXPECT_FALSE(forced_tile_from_env_value(nullptr, &t));
  EXPECT_FALSE(forced_tile_from_env_value("", &t));
  EXPECT_EQ(t.block_m, 7);
  ASSERT_TRUE(forced_tile_from_env_value("128x64x1x1x2", &t));
  EXPECT_EQ(t.block_m, 128);
  EXPECT_EQ(t.split_k, 2);
  for (const char* bad : {"256x128x", "auto", "256"}) {
    try {
      forced_tile_from_env_value(bad, &t);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(std::string("MXGEMM_FORCE_TILE='") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(t.split_k, 2) << "a rejected value leaves the output alone";
}

}  // namespace
}  // namespace mxgemm::host
