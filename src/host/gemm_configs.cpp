// The tile table and its cost model.
//
// Candidates (all instantiated ahead of time, scripts/gen_gemm_instances.py):
//   128x128x2 the 128x128 tile in 2-CTA clusters along M that share B by TMA multicast: halves the B part of the
//            L2->SM traffic, (128+64)*K per tile instead of (128+128)*K. Compiled and tested, but NOT chosen by the
//            model: measured on the H100 (bench/results/2026-11-25-*) it was no faster than 128x128 at any PEERS.md
//            shape (the kernel is not L2-bandwidth bound yet); MXGEMM_FORCE_TILE=128x128x2 selects it.
//            256x128x2 (same idea at 256x128) measured slower than 256x128 at the three large shapes
//            (bench/results/2026-11-25-h100-gemm-s2-tile-256x128x2.json); also opt-in only and not in this table.
//   256x128 cluster 1x2: 2-CTA clusters along N sharing A (DeepGEMM's choice at the large PEERS.md shapes):
//            (128+128)*K L2->SM bytes per tile. Level with 256x128 in an interleaved comparison
//            (bench/results/2026-11-25-h100-gemm-s3-tiles-cluster.json): in the table, skipped like every cluster
//            tile; MXGEMM_FORCE_TILE=256x128x1x2 selects it.
//   256x128  two math warpgroups of two m64n128 waves each: (256+128)*K operand bytes per 256x128 tile -> large M.
//   192x128  three math warpgroups of one m64n128 wave each (160 registers per thread): per MMA level with 256x128
//            on the H100, not faster, although its schedule ran 16% faster in session 7's main-loop microbenchmark:
//            these GEMMs run at the 700 W power cap, where a call's time follows its energy and busier tensor cores
//            do not shorten it (docs/PERF_NOTES.md, session 8). It wins where its waves are fuller: at
//            6144x7168x2048 (14 waves of 3/4 the work of 256x128's 11) 166 vs 176 us per call, sustained
//            (bench/results/2026-11-25-h100-gemm-s8-power-burn-2-summary.json); it loses at M = 4096 (a last row
//            of 64 rows) and 4096x4096x7168 (6 waves vs 4), level at 8192x7168x2048
//            (bench/results/2026-11-25-h100-gemm-s8-192-tiles.json). Taken only when 192 divides M or all its tiles run
//            in one wave: over several waves a partial last row (its idle warpgroups skip their wgmma) still costs
//            most of a full one (see choose_dense_tile).
//   128x128  two math warpgroups, m64n128 wgmma, two-deep promotion pipeline -> M ~ 256-2048.
//   128x64   two math warpgroups, m64n64: twice the tiles of 128x128 -> fills 132 SMs when M is ~128-256.
//   64x64    one math warpgroup: 4x the tiles of 128x128 -> small M, where the weights (N*K bytes) must stream
//            from HBM through as many SMs as possible (one SM alone cannot pull its share of 3 TB/s).
//   64x128   one math warpgroup of m64n128 wgmma (two-deep), for every epilogue (g128 outputs need it at small M,
//            their 128-wide scale group needs BLOCK_N = 128). At the same tile count and the same (64+128)*K operand
//            bytes per tile it beats 128x64 (two warpgroups of m64n64), and at M = 192-256 with K = 7168 it also
//            beats 64x64's two waves (bench/results/2026-11-25-h100-gemm-s9-t64x128-sweep.json, mxfp8 graph:
//            128x7168x2048 10.1 vs 11.2 us, 256x4096x7168 19.2 vs 21.0, 192x4096x7168 18.6 vs 26.6); 64x64 stays
//            ahead where it has twice the tiles in one wave (128x4096x7168 16.6 vs 18.3). Listed before 128x64, so a
//            tie in the model goes to it.
//   split-K  the one-wave tiles split over K in clusters of 2 or 4 CTAs (rank 0 adds the partial accumulators from
//            the others' DSMEM stores in rank order, then quantizes once). Measured on the H100
//            (bench/results/2026-11-25-h100-gemm-s4-prefetch0-*.json): faster only when the unsplit tiles leave
//            most SMs idle, 64x64 split 2 at 16x2048x7168 (32 tiles) 11.7 vs 13.1 us; slower at 64x4096x7168 (64
//            tiles) and at every PEERS.md shape. So the model takes 64x64 / 64x128 split 2 when those tiles number at
//            most a quarter of the SMs and K has >= 16 blocks; the other split tiles are opt-in.
//
// Model: time = max(tensor-core time, HBM time, L2->SM time) over the waves of a persistent grid.
//   tensor core: 2*BM*BN*K per tile at the SM's FP8 rate times an efficiency for the shape (n64 tiles re-read A
//                from shared memory twice as often; one math warpgroup cannot hide its own promotion step);
//   HBM: the fewest bytes (A, B, output) at min(3.0 TB/s, active SMs * ~40 GB/s per SM);
//   L2->SM: each tile pulls (BM+BN)*K bytes at ~110 GB/s per SM.
#include "host/gemm_configs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mxgemm::host {
namespace {

struct Candidate {
  int block_m, block_n, cluster_m, cluster_n;
  const char* why;
};

constexpr Candidate kCandidates[] = {
    {256, 128, 1, 2, "256x128 in 2-CTA clusters along N sharing A: least L2->SM traffic for large M"},
    {128, 128, 2, 1, "128x128 in 2-CTA clusters sharing B: least L2 traffic for large M"},
    {256, 128, 1, 1, "256x128: two m64 waves per math warpgroup, the least L2/smem traffic per MMA for large M"},
    {192, 128, 1, 1, "192x128: three math warpgroups of one m64 wave, for M where 192-row tiles fill the waves better"},
    {128, 128, 1, 1, "128x128: best operand reuse with the two-deep promotion pipeline"},
    {64, 128, 1, 1, "64x128: one m64n128 warpgroup, twice the tiles of 128x128 for M ~ 128-256"},
    {128, 64, 1, 1, "128x64: twice the tiles of 128x128 for M ~ 128-256"},
    {64, 64, 1, 1, "64x64: the most tiles, to stream the weights through every SM at small M"},
};

constexpr double kHbmBytesPerUs = 3.0e6;      // measured device-to-device copy, read + write (PEERS.md)
constexpr double kSmHbmBytesPerUs = 4.0e4;    // what one SM's TMA stream sustains from HBM (~40 GB/s)
constexpr double kSmL2BytesPerUs = 1.1e5;     // L2 -> SM (~110 GB/s)
constexpr double kSmFp8FlopsPerUs = 1.15e7;   // ~1500 TFLOP/s achievable over 132 SMs
// 256x128 against 128x128 (fewer operand bytes per MMA from L2 and shared memory, but one promotion scratch instead
// of the two-deep pipeline): 5-8% faster at the three large PEERS.md shapes, bf16 out, CUDA-graph timings
// (bench/results/2026-11-25-h100-gemm-s2-tile-{128x128,256x128}.json).
constexpr double kWaveTileGain = 1.05;

double shape_efficiency(int block_m, int block_n) {
  double eff = block_n >= 128 ? 1.0 : 0.8;
  if (block_m == 64) eff *= 0.85;
  if (block_m == 256 || block_m == 192) eff *= kWaveTileGain;
  return eff;
}

}  // namespace

bool parse_tile_spec(const std::string& text, TileSpec* out) {
  TileSpec t;
  int* const fields[] = {&t.block_m, &t.block_n, &t.cluster_m, &t.cluster_n, &t.split_k};
  size_t pos = 0;
  int last = 0;  // index of the last field read
  for (;; ++last) {
    if (last == 5) return false;
    size_t end = pos;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == pos || end - pos > 6) return false;
    *fields[last] = std::stoi(text.substr(pos, end - pos));
    if (*fields[last] <= 0) return false;
    if (end == text.size()) break;
    if (text[end] != 'x') return false;
    pos = end + 1;
  }
  if (last < 1) return false;
  *out = t;
  return true;
}

std::string describe_tile_spec(const TileSpec& t) {
  return std::to_string(t.block_m) + "x" + std::to_string(t.block_n) + " cluster " + std::to_string(t.cluster_m) +
         "x" + std::to_string(t.cluster_n) + " split-K " + std::to_string(t.split_k);
}

bool forced_tile_from_env_value(const char* value, TileSpec* out) {
  if (value == nullptr || value[0] == '\0') return false;
  if (!parse_tile_spec(value, out))
    throw Error(ErrorCode::kInvalidArgument, std::string("MXGEMM_FORCE_TILE='") + value +
                                                 "' is not BMxBN[xCLUSTER_M[xCLUSTER_N[xSPLIT_K]]] (2 to 5 positive "
                                                 "integers separated by 'x'); unset it to let the cost model choose");
  return true;
}

std::string TileChoice::describe() const {
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s (tiles=%lld waves=%lld: mma %.1f us, hbm %.1f us, l2 %.1f us)", why,
                static_cast<long long>(tiles), static_cast<long long>(waves), mma_us, hbm_us, l2_us);
  return buf;
}

TileChoice choose_dense_tile(int64_t M, int64_t N, int64_t K, int num_sms, int group) {
  TileChoice best;
  for (const Candidate& c : kCandidates) {
    if (group == 128 && c.block_n % 128 != 0) continue;
    const int64_t m_blocks = (M + c.block_m - 1) / c.block_m;
    const int64_t n_blocks = (N + c.block_n - 1) / c.block_n;
    const int cluster = c.cluster_m * c.cluster_n;
    if (cluster > 1) continue;  // see the table above: opt-in only until it measures faster
    // 192x128 only when 192 divides M or all its tiles run in one wave. Over several waves a partial last row (one or
    // two of its three warpgroups idle there) measured slower than the model says, e.g. 2048x7168x2048 60.3 us vs
    // 128x128's 54.4 (graph), while at 3072 and 6144 rows it was the fastest tile
    // (bench/results/2026-11-25-h100-gemm-s8-model-sweep.json). In one wave the partial tiles only finish early:
    // 320x7168x2048 14.5 us vs the next best 16.2, 640x4096x7168 41.8 vs 42.0 (256x128) and 44.9 (128x128)
    // (bench/results/2026-11-25-h100-gemm-s9-model-mid-m.json).
    if (c.block_m == 192 && M % 192 != 0 && m_blocks * n_blocks > num_sms) continue;
    // Work is handed out per cluster: a pair of adjacent tiles per unit, over num_sms / cluster slots.
    const int64_t units = ((m_blocks + c.cluster_m - 1) / c.cluster_m) * ((n_blocks + c.cluster_n - 1) / c.cluster_n);
    const int64_t slots = num_sms / cluster;
    const int64_t waves = (units + slots - 1) / slots;
    const int64_t tiles = units * cluster;
    const int64_t active = std::min<int64_t>(tiles, num_sms);
    const double mma_us = double(waves) * 2.0 * c.block_m * c.block_n * double(K) /
                          (kSmFp8FlopsPerUs * shape_efficiency(c.block_m, c.block_n));
    const double bytes = double(M) * K + double(N) * K + double(M) * N;
    const double hbm_us = bytes / std::min(kHbmBytesPerUs, double(active) * kSmHbmBytesPerUs);
    const double l2_us =
        double(waves) * double(c.block_m / c.cluster_n + c.block_n / c.cluster_m) * K / kSmL2BytesPerUs;
    const double est = std::max({mma_us, hbm_us, l2_us});
    // Ties (within 2%) go to the tile that wastes fewer rows (padding of M up to BLOCK_M).
    const bool better = best.block_m == 0 || est < best.modelled_us * 0.98 ||
                        (est < best.modelled_us * 1.02 && c.block_m < best.block_m && M <= 64);
    if (better)
      best = TileChoice{{c.block_m, c.block_n, c.cluster_m, c.cluster_n, 1}, est, c.why, tiles, waves, mma_us, hbm_us,
                        l2_us};
  }
  // Split-K (see the table above): when the small-M tile leaves three quarters of the SMs idle over a long K.
  if (best.block_m == 64 && best.tiles * 4 <= num_sms && (K + 127) / 128 >= 16) {
    best.split_k = 2;
    best.why = best.block_n == 128 ? "64x128 split-K 2: few tiles at small M, each K half on its own SM"
                                   : "64x64 split-K 2: few tiles at small M, each K half on its own SM";
  }
  return best;
}

}  // namespace mxgemm::host
