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
void check_schedule(int m_blocks, int n_blocks, int grid) {
  constexpr int kCluster = kClusterM * kClusterN;
  SCOPED_TRACE("cluster " + std::to_string(kClusterM) + "x" + std::to_string(kClusterN) + ", " +
               std::to_string(m_blocks) + " x " + std::to_string(n_blocks) + " blocks, grid " + std::to_string(grid));
  std::vector<int> produced(static_cast<size_t>(m_blocks) * n_blocks, 0);
  for (int cluster = 0; cluster < grid / kCluster; ++cluster) {
    std::vector<std::vector<std::pair<int, int>>> seq(kCluster);
    for (int rank = 0; rank < kCluster; ++rank) {
      TestGrid::index = cluster * kCluster + rank;
      TestGrid::size = grid;
      DenseTileScheduler<kClusterM, kClusterN, 8, TestGrid> scheduler(m_blocks, n_blocks, rank);
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
    }
  }
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
