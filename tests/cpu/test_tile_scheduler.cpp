// The dense tile scheduler on the host (src/kernels/tile_scheduler.cuh takes the CTA index and grid size from a Grid
// policy): for every cluster shape the kernels compile (1x1, 2 CTAs along M sharing B, 2 along N sharing A), grid
// sizes of a full H100 and of a few CTAs (many tiles each), and block counts that do and do not divide by 2, every
// output tile is produced exactly once, the CTAs of a cluster walk their sequences in lockstep on adjacent tiles (the
// multicast pairs), and only a cluster's last unit carries a surplus tile, one block past the end.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "kernels/tile_scheduler.cuh"

namespace mxgemm::kernels {
namespace {

struct TestGrid {
  static inline int index = 0;
  static inline int size = 1;
  static int cta_index() { return index; }
  static int num_ctas() { return size; }
};

template <int kClusterM, int kClusterN>
void check_schedule(int m_blocks, int n_blocks, int grid, bool partial_row_last = false) {
  constexpr int kCluster = kClusterM * kClusterN;
  SCOPED_TRACE("cluster " + std::to_string(kClusterM) + "x" + std::to_string(kClusterN) + ", " +
               std::to_string(m_blocks) + " x " + std::to_string(n_blocks) + " blocks, grid " + std::to_string(grid) +
               (partial_row_last ? ", partial row last" : ""));
  std::vector<int> produced(static_cast<size_t>(m_blocks) * n_blocks, 0);
  for (int cluster = 0; cluster < grid / kCluster; ++cluster) {
    std::vector<std::vector<std::pair<int, int>>> seq(kCluster);
    for (int rank = 0; rank < kCluster; ++rank) {
      TestGrid::index = cluster * kCluster + rank;
      TestGrid::size = grid;
      DenseTileScheduler<kClusterM, kClusterN, 8, TestGrid> scheduler(m_blocks, n_blocks, rank, partial_row_last);
      int m, n;
      while (scheduler.next(m, n)) {
        seq[rank].push_back({m, n});
        ASSERT_GE(m, 0);
        ASSERT_GE(n, 0);
        if (m < m_blocks && n < n_blocks) {
          ++produced[static_cast<size_t>(m) * n_blocks + n];
        } else {
          // A surplus tile: one block past the end along the cluster's dimension, never in a 1-CTA grid.
          EXPECT_GT(kCluster, 1);
          EXPECT_TRUE((kClusterM == 2 && m == m_blocks && n < n_blocks) ||
                      (kClusterN == 2 && n == n_blocks && m < m_blocks))
              << "tile (" << m << ", " << n << ")";
        }
      }
    }
    for (int rank = 1; rank < kCluster; ++rank) {
      ASSERT_EQ(seq[rank].size(), seq[0].size()) << "the CTAs of a cluster must walk the same number of tiles";
      for (size_t i = 0; i < seq[0].size(); ++i) {
        const int dm = seq[rank][i].first - seq[0][i].first, dn = seq[rank][i].second - seq[0][i].second;
        EXPECT_EQ(dm, kClusterM == 2 ? rank : 0) << "step " << i;
        EXPECT_EQ(dn, kClusterN == 2 ? rank : 0) << "step " << i;
      }
    }
  }
  for (int m = 0; m < m_blocks; ++m)
    for (int n = 0; n < n_blocks; ++n)
      EXPECT_EQ(produced[static_cast<size_t>(m) * n_blocks + n], 1) << "tile (" << m << ", " << n << ")";
}

TEST(DenseTileScheduler, EveryTileExactlyOnceClustersInLockstep) {
  const std::pair<int, int> blocks[] = {{1, 1}, {1, 2}, {3, 5}, {9, 17}, {16, 56}, {17, 34}, {33, 34}, {64, 3}};
  for (int grid : {132, 6, 2}) {
    for (auto [mb, nb] : blocks) {
      check_schedule<1, 1>(mb, nb, grid);
      check_schedule<2, 1>(mb, nb, grid);
      check_schedule<1, 2>(mb, nb, grid);
      check_schedule<1, 1>(mb, nb, grid, true);
      check_schedule<2, 1>(mb, nb, grid, true);  // (clusters ignore the flag)
    }
  }
}

TEST(DenseTileScheduler, PartialRowLastDealsTheLastRowAfterTheOthers) {
  // 192x128 tiles at 4096 x 7168: 22 x 56 blocks, the last row holds 64 of 192 rows. Tile t of the whole sequence
  // (CTA t % 132, its step t / 132) is in the last row exactly when t >= 21 * 56; the others follow the grouped
  // raster over 21 rows (its last group 5 rows high).
  constexpr int kMBlocks = 22, kNBlocks = 56, kGrid = 132;
  std::vector<int> last_row_per_cta(kGrid, 0), full_per_cta(kGrid, 0);
  for (int cta = 0; cta < kGrid; ++cta) {
    TestGrid::index = cta;
    TestGrid::size = kGrid;
    DenseTileScheduler<1, 1, 8, TestGrid> s(kMBlocks, kNBlocks, 0, true);
    int m, n;
    for (int step = 0; s.next(m, n); ++step) {
      const int t = step * kGrid + cta;
      EXPECT_EQ(m == kMBlocks - 1, t >= (kMBlocks - 1) * kNBlocks) << "tile index " << t;
      if (m == kMBlocks - 1) {
        EXPECT_EQ(n, t - (kMBlocks - 1) * kNBlocks);
        ++last_row_per_cta[cta];
      } else {
        ++full_per_cta[cta];
      }
      if (t >= 16 * kNBlocks && t < (kMBlocks - 1) * kNBlocks) {
        EXPECT_EQ(m, 16 + (t - 16 * kNBlocks) % 5);
        EXPECT_EQ(n, (t - 16 * kNBlocks) / 5);
      }
    }
  }
  // 1176 full tiles = 8 x 132 + 120: the 12 CTAs with 8 full tiles take a cheap one first.
  for (int cta = 0; cta < kGrid; ++cta) {
    EXPECT_EQ(full_per_cta[cta], cta < 120 ? 9 : 8) << cta;
    EXPECT_EQ(last_row_per_cta[cta], (cta >= 120 || cta < 44) ? 1 : 0) << cta;
  }
  // Without the flag the last row is interleaved in the raster: tile 16 * 56 + 5 (CTA 109, step 6) is (21, 0).
  TestGrid::index = (16 * kNBlocks + 5) % kGrid;
  DenseTileScheduler<1, 1, 8, TestGrid> plain(kMBlocks, kNBlocks, 0);
  int m = -1, n = -1;
  for (int step = 0; step <= (16 * kNBlocks + 5) / kGrid; ++step) ASSERT_TRUE(plain.next(m, n));
  EXPECT_EQ(m, kMBlocks - 1);
  EXPECT_EQ(n, 0);
}

TEST(DenseTileScheduler, ConsecutiveClustersShareOperandPanels) {
  // The grouped raster: the first 8 clusters of a 132-CTA grid over 16 x 56 blocks (256x128 tiles at 4096 x 7168)
  // cover 8 consecutive M blocks of one N column (1x1), or 8 M blocks of one N pair (1x2): their B panel is shared
  // through L2.
  for (int c = 0; c < 8; ++c) {
    TestGrid::index = c;
    TestGrid::size = 132;
    DenseTileScheduler<1, 1, 8, TestGrid> s(16, 56, 0);
    int m, n;
    ASSERT_TRUE(s.next(m, n));
    EXPECT_EQ(m, c);
    EXPECT_EQ(n, 0);
    TestGrid::index = 2 * c + 1;
    DenseTileScheduler<1, 2, 8, TestGrid> p(16, 56, 1);
    ASSERT_TRUE(p.next(m, n));
    EXPECT_EQ(m, c);
    EXPECT_EQ(n, 1);
  }
}

}  // namespace
}  // namespace mxgemm::kernels
