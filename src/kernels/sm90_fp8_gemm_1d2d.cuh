// SM90 FP8 GEMM "NT" with 1x128 (A) and 128x128 (B) FP32 block scales and a fused output epilogue.
//
//   D[M,N] = sum_kb (A[:, kb] . B[:, kb]^T) * SFA[m, kb] * SFB[n/128, kb]
//
// Warp-specialised and persistent:
//   - one producer warpgroup (a single elected thread) streams A, B and SFA tiles with TMA into a kStages-deep
//     shared-memory ring (full/empty mbarriers);
//   - one math warpgroup (BLOCK_M = 64), three (BLOCK_M = 192, one wave each) or two, each owning its rows as one
//     or two 64-row "waves" (dealt round-robin: wave w of warpgroup g is the tile's 64-row block w * (number of
//     math warpgroups) + g); per 128-wide K block a wave issues 4 wgmma m64nNk32 into a scratch accumulator, then
//     promotes it into the FP32 accumulator with sfa*sfb (the tensor core's FP8 accumulator keeps ~14 bits, so
//     partial sums are promoted every 128 K, as the DeepSeek-V3 recipe requires). One-wave tiles of one or two
//     warpgroups run a two-deep pipeline over a continuous ring (block kb+1 on the tensor cores while kb is
//     promoted); 256x128 (two waves) and 192x128 (three warpgroups, registers for one scratch) promote wave after
//     wave, with the loop over a ring pass unrolled and instantiated per first stage, so barrier and operand
//     addresses are constants; there, warpgroups whose rows all lie past M skip their wgmma;
//   - 2-CTA clusters (opt-in tiles) share A (along N) or B (along M) through TMA multicast;
//   - the epilogue policy turns the FP32 accumulators into output bytes in a swizzled shared-memory tile that
//     one thread per warpgroup writes with a TMA store; the store drains while the next tile's main loop runs;
//   - programmatic dependent launch (params.pdl): B's first K blocks are requested before griddepcontrol.wait.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <type_traits>

#include "kernels/epilogues.cuh"
#include "kernels/gemm_params.h"
#include "kernels/tile_scheduler.cuh"
#include "ptx/cluster.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/smem.cuh"
#include "ptx/sync.cuh"
#include "ptx/tma.cuh"
#include "ptx/wgmma.cuh"

namespace mxgemm::kernels {

template <int kBlockM_, int kBlockN_, int kClusterM_, int kClusterN_, class Epilogue_, int kSplitK_ = 1>
struct GemmKernelTraits {
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  // 2-CTA clusters share one operand tile through TMA multicast; each CTA loads half of it for both:
  //   kClusterM = 2: the pair computes vertically adjacent tiles (same N block) and shares B: L2->SM bytes per tile
  //                  (BM + BN/2) * K instead of (BM + BN) * K;
  //   kClusterN = 2: the pair computes horizontally adjacent tiles (same M block) and shares A (and loads its own
  //                  SFA): (BM/2 + BN) * K, the bigger saving for the 256x128 tile, whose A is two thirds of a stage.
  static constexpr int kClusterM = kClusterM_;
  static constexpr int kClusterN = kClusterN_;
  static constexpr int kClusterSize = kClusterM * kClusterN;
  static_assert((kClusterM == 1 || kClusterM == 2) && (kClusterN == 1 || kClusterN == 2) && kClusterSize <= 2,
                "a cluster of 1 or 2 CTAs, along M or along N");
  static_assert((kBlockN / kClusterM) % 8 == 0 && (kBlockM / kClusterN) % 8 == 0,
                "multicast slices must be whole 8-row swizzle atoms");
  // Split-K over a cluster: kSplitK CTAs compute the same output tile, each over its own contiguous share of the K
  // blocks; the partial FP32 accumulators of ranks 1.. are stored into rank 0's shared memory (st.async, completing
  // on a barrier there), and rank 0 adds them in rank order (deterministic) and runs the epilogue: one quantization.
  // For small M, where the tiles alone cannot occupy every SM (or re-read the operands too often).
  static constexpr int kSplitK = kSplitK_;
  static constexpr int kClusterCtas = kClusterSize * kSplitK;  // the launch's cluster dimension
  static_assert(kSplitK == 1 || kSplitK == 2 || kSplitK == 4, "split-K over 1, 2 or 4 CTAs");
  static_assert(kSplitK == 1 || kClusterSize == 1, "split-K clusters do not also share operand tiles");
  using Epilogue = Epilogue_;
  static_assert(kBlockM == 64 || kBlockM == 128 || kBlockM == 192 || kBlockM == 256,
                "BLOCK_M of 64, 128, 192 or 256");
  static_assert(kBlockN % 16 == 0 && kBlockN <= 128 && 128 % kBlockN == 0,
                "one SFB scale per tile: BLOCK_N must divide 128");
  static_assert(Epilogue::supports_block_n(kBlockN), "the epilogue's scale group must fit in the tile");

  // One math warpgroup for 64-row tiles, three for 192-row tiles, else two; a warpgroup covers its rows in kWaves
  // m64 wgmma "waves".
  static constexpr int kNumMathWarpgroups = kBlockM == 64 ? 1 : kBlockM == 192 ? 3 : 2;
  static constexpr int kWaves = kBlockM / (kMathWarpgroupRows * kNumMathWarpgroups);
  static constexpr int kNumMathThreads = 128 * kNumMathWarpgroups;
  static constexpr int kNumThreads = kNumMathThreads + 128;  // + the producer warpgroup
  // The two-deep software pipeline (K block kb+1 on the tensor cores while kb is promoted) needs a second scratch
  // accumulator. With two waves the registers hold 2 accumulators + 1 scratch at most (3 x 64 of 232), so those
  // tiles promote wave after wave; the other warpgroup's wgmma keep the tensor cores busy meanwhile. Three math
  // warpgroups (192x128) have ~160 registers each: one accumulator + one scratch, wave after wave, with two other
  // warpgroups' waves to cover each promotion (the main-loop microbenchmark's fastest schedule,
  // bench/results/2026-11-25-h100-gemm-s7-mloop.json).
  static constexpr bool kTwoDeep = kWaves == 1 && kNumMathWarpgroups <= 2;
  // Every kernel streams K blocks through one continuous ring: a tile's first K block takes the stage after the
  // previous tile's last one, so the producer fills the next tile's first stages while this tile's last blocks run.
  // (Session 4 aligned every tile to stage 0 so that the wave-by-wave loop could use constant stage indices; the
  // slots past a tile's last block then held no data and the next tile's loads waited for the last block's release:
  // 1.4-3.8% slower at the PEERS.md large shapes, bench/results/2026-11-25-h100-gemm-s5-ring-ab.txt. The wave-by-wave
  // loop keeps its constants by being instantiated once per possible first stage.)
  static_assert(kSplitK == 1 || kTwoDeep, "split-K is implemented for the one-wave (two-deep) kernels");

  static constexpr int kTileABytes = kBlockM * kBlockK;  // e4m3, 128-byte rows, 128B swizzle
  static constexpr int kTileBBytes = kBlockN * kBlockK;
  static constexpr int kTileSfaBytes = kBlockM * 4;
  // The K block's B scale travels with its stage (the producer copies it with cp.async, completing on the stage's
  // full barrier) and is read with one LDS like SFA: a global load per K block in the math warps was the main source
  // of long-scoreboard stalls (ncu: 1.27 warps per issued instruction vs DeepGEMM's 0.73, which stages SFB in
  // shared memory too). One float per stage; the slot is padded to 16 bytes.
  static constexpr int kTileSfbBytes = 16;
  static constexpr int kStageBytes = kTileABytes + kTileBBytes + kTileSfaBytes + kTileSfbBytes;

  using OutLayout = OutTileLayout<kBlockN * Epilogue::kOutBytes>;
  static constexpr int kOutSubtileBytes = OutLayout::kTileSmemBytes;  // one 64-row wave of output

  // Split-K: rank 0 receives the other ranks' accumulators, [rank - 1][accumulator / 4][math thread] x 16 bytes.
  static constexpr int kReduceBytes = (kSplitK - 1) * kBlockM * kBlockN * 4;
  // Shared memory: [1024 alignment slack][A ring][B ring][out subtiles][SFA ring][SFB ring][reduce][barriers]
  static constexpr int kMaxStages = 16;
  static constexpr int kBarrierBytes = 2 * kMaxStages * 8 + (kSplitK > 1 ? 16 : 0);
  static constexpr int stages_with(int out_subtiles_per_wg) {
    const int fixed = 1024 + kNumMathWarpgroups * out_subtiles_per_wg * kOutSubtileBytes + kReduceBytes + kBarrierBytes;
    const int n = (kSmemBudget - fixed) / kStageBytes;
    return n < kMaxStages ? n : kMaxStages;
  }
  // Each wave gets its own output subtile (its TMA store drains while the next wave is quantized) unless that
  // costs a pipeline stage; then the waves of a warpgroup take turns in one subtile.
  static constexpr int kOutSubtiles = stages_with(kWaves) >= stages_with(1) ? kWaves : 1;
  static constexpr int kNumStages = stages_with(kOutSubtiles);
  static_assert(kNumStages >= 3, "tile too large for shared memory: fewer than 3 stages cannot hide TMA latency");
  static constexpr int kOutTileBytes = kOutSubtiles * kOutSubtileBytes;  // per math warpgroup
  static constexpr int kFixedBytes = 1024 + kNumMathWarpgroups * kOutTileBytes + kReduceBytes + kBarrierBytes;
  static constexpr int kSmemBytes = kFixedBytes + kNumStages * kStageBytes;

  // Register split (setmaxnreg): the producer needs few; math warpgroups hold 2 x BLOCK_N/2 FP32 accumulators. The
  // kernel is launched with 168 registers per thread (384 x 168 = 64512); setmaxnreg.inc waits until the pool has
  // the registers, so 2 x 128 x (232 - 168) must not exceed 128 x (168 - kProducerRegs): 40 (48 deadlocked).
  // Three math warpgroups (512 threads, launched with 128 registers): the producer drops to setmaxnreg's minimum
  // (24) and the math warpgroups take 160: 3 x 128 x (160 - 128) <= 128 x (128 - 24).
  static constexpr uint32_t kProducerRegs = kNumMathWarpgroups == 3 ? 24 : 40;
  static constexpr uint32_t kMathRegs = kNumMathWarpgroups == 3 ? 160 : 232;
  static constexpr uint32_t kLaunchRegs = (65536 / kNumThreads) & ~7u;  // what __launch_bounds__(kNumThreads, 1) gives
  static_assert(kNumMathWarpgroups == 1 ||
                    kNumMathThreads * (kMathRegs - kLaunchRegs) <= 128 * (kLaunchRegs - kProducerRegs),
                "setmaxnreg.inc would wait forever for registers the producer did not give back");
};

// TMA load of one operand tile (kRows rows of one 128-byte K block) into `tile`. Shared by a cluster of kShare CTAs:
// this CTA loads its slice of kRows / kShare rows and multicasts it to every CTA of the cluster (same offset).
template <int kRows, int kShare>
__device__ __forceinline__ void load_operand_tile(const CUtensorMap* map, uint64_t* bar, uint8_t* tile, int kb, int row0,
                                                  int cta_rank) {
  if constexpr (kShare == 1) {
    ptx::tma_load_2d(map, bar, tile, kb * kBlockK, row0);
  } else {
    constexpr int kSliceRows = kRows / kShare;
    ptx::tma_load_2d_multicast(map, bar, tile + cta_rank * kSliceRows * kBlockK, kb * kBlockK,
                               row0 + cta_rank * kSliceRows, static_cast<uint16_t>((1u << kShare) - 1u));
  }
}

// Calls f(std::integral_constant<int, s>) for the runtime value s in [0, kCount): a loop whose first ring stage is a
// template constant keeps every stage index (and so every barrier and operand address) a constant.
template <int kCount, int kS = 0, class F>
__device__ __forceinline__ void dispatch_first_stage(int s, F&& f) {
  if constexpr (kS + 1 < kCount) {
    if (s != kS) {
      dispatch_first_stage<kCount, kS + 1>(s, f);
      return;
    }
  }
  f(std::integral_constant<int, kS>{});
}

template <class Traits>
__global__ void __launch_bounds__(Traits::kNumThreads, 1)
    sm90_fp8_gemm_1d2d_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                              const __grid_constant__ CUtensorMap tmap_sfa, const __grid_constant__ CUtensorMap tmap_d,
                              const GemmParams params) {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kStages = Traits::kNumStages;
  using Epilogue = typename Traits::Epilogue;
  using Wgmma = ptx::WgmmaFp8<kBlockN>;
  constexpr int kNumAccum = Wgmma::kNumAccum;

  constexpr uint32_t kFullBarrierArrivals = 2;
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  // 128B-swizzled TMA tiles and the swizzle arithmetic of the output tile need 1024-byte alignment. The offset is
  // added to smem_raw itself (not via an integer round trip) so that the compiler still knows every pointer below
  // is in shared memory and emits LDS/STS instead of generic loads and stores.
  const uint32_t smem_raw_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + ((1024u - (smem_raw_addr & 1023u)) & 1023u);
  uint8_t* smem_a = smem;
  uint8_t* smem_b = smem_a + kStages * Traits::kTileABytes;
  uint8_t* smem_out = smem_b + kStages * Traits::kTileBBytes;
  float* smem_sfa = reinterpret_cast<float*>(smem_out + Traits::kNumMathWarpgroups * Traits::kOutTileBytes);
  uint8_t* smem_sfb = reinterpret_cast<uint8_t*>(smem_sfa + kStages * kBlockM);
  uint8_t* smem_reduce = smem_sfb + kStages * Traits::kTileSfbBytes;
  uint64_t* full_bar = reinterpret_cast<uint64_t*>(smem_reduce + Traits::kReduceBytes);
  uint64_t* empty_bar = full_bar + kStages;
  // Split-K: rank 0's "partials landed" barrier (one arrival with the bytes expected, completed by the other ranks'
  // st.async) and each other rank's "rank 0 has read them" barrier (one arrival per math warp of rank 0).
  uint64_t* reduce_full_bar = empty_bar + kStages;
  uint64_t* reduce_free_bar = reduce_full_bar + 1;

  // Broadcast from lane 0: the compiler then knows the value is warp-uniform and keeps what derives from it (the
  // operand descriptors) in uniform registers, which wgmma reads directly (no per-use register-to-uniform moves).
  const int warpgroup = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / 128, 0);
  const int thread_in_wg = static_cast<int>(threadIdx.x) % 128;
  const int warp_in_wg = thread_in_wg / 32;
  const int lane = thread_in_wg % 32;

  if (threadIdx.x == 0) {
#pragma unroll 1
    for (int s = 0; s < kStages; ++s) {
      // The producer's arrive.expect_tx (TMA bytes) and the completion of its SFB cp.async.
      ptx::mbarrier_init(&full_bar[s], kFullBarrierArrivals);
      // Every math thread of this CTA arrives (see release_stage_to_producers), plus one arrival per math warp of
      // each peer CTA whose producer multicasts into this stage.
      ptx::mbarrier_init(&empty_bar[s],
                         Traits::kNumMathThreads + (Traits::kClusterSize - 1) * Traits::kNumMathWarpgroups * 4);
    }
    if constexpr (Traits::kSplitK > 1) {
      ptx::mbarrier_init(reduce_full_bar, 1);
      ptx::mbarrier_init(reduce_free_bar, Traits::kNumMathWarpgroups * 4);
    }
    ptx::fence_mbarrier_init();
  }
  // Under programmatic dependent launch the next kernel in the stream may be scheduled from here on (its CTAs start
  // as SMs free up; its own griddepcontrol.wait still waits for this whole grid to complete).
  ptx::griddepcontrol_launch_dependents();
  // The peer's barriers must be initialised before any multicast or remote arrive reaches them.
  if constexpr (Traits::kClusterCtas > 1) ptx::cluster_sync(); else __syncthreads();
  // Rank in the cluster: the CTA's slice of a shared operand tile, or its share of K (split-K).
  const int cta_rank = Traits::kClusterCtas > 1 ? static_cast<int>(ptx::cluster_cta_rank()) : 0;
  // This CTA's K blocks [k_block_begin, k_block_end) of every tile: all of them, or an even share under split-K
  // (possibly none when there are fewer K blocks than ranks; such a rank contributes zeros).
  const int k_block_begin = Traits::kSplitK > 1 ? cta_rank * params.num_k_blocks / Traits::kSplitK : 0;
  const int k_block_end =
      Traits::kSplitK > 1 ? (cta_rank + 1) * params.num_k_blocks / Traits::kSplitK : params.num_k_blocks;
  const int num_local_k_blocks = k_block_end - k_block_begin;
  using Scheduler = DenseTileScheduler<Traits::kClusterM, Traits::kClusterN, 8, SplitKGrid<Traits::kSplitK>>;
  // Wave kernels skip the wgmma of warpgroups whose rows all lie past M, which makes a partial last row of tiles
  // cheaper than the others: it is dealt last (see DenseTileScheduler).
  const bool partial_row_last = !Traits::kTwoDeep && params.M % kBlockM != 0;

  if (warpgroup == Traits::kNumMathWarpgroups) {
    // ------------------------------------------------------------------ producer
    if constexpr (Traits::kNumMathWarpgroups > 1) ptx::setmaxnreg_dec<Traits::kProducerRegs>();
    if (thread_in_wg == 0) {
      ptx::tma_prefetch_descriptor(&tmap_a);
      ptx::tma_prefetch_descriptor(&tmap_b);
      ptx::tma_prefetch_descriptor(&tmap_sfa);
      Scheduler scheduler(params.num_m_blocks, params.num_n_blocks, cta_rank, partial_row_last);
      // B is shared by a cluster along M, A by a cluster along N.
      auto load_b = [&](int stage, int kb, int n_block) {
        load_operand_tile<kBlockN, Traits::kClusterM>(&tmap_b, &full_bar[stage], smem_b + stage * Traits::kTileBBytes,
                                                      kb, n_block * kBlockN, cta_rank);
      };
      auto load_a = [&](int stage, int kb, int m_block) {
        load_operand_tile<kBlockM, Traits::kClusterN>(&tmap_a, &full_bar[stage], smem_a + stage * Traits::kTileABytes,
                                                      kb, m_block * kBlockM, cta_rank);
      };
      // The scales of a stage are small: every CTA loads its own. SFB is one float, [n / 128, kb] of the row-major
      // [ceil(N/128), num_k_blocks] matrix (its rows are not 16-byte pitched, so not TMA-able): a 4-byte cp.async
      // whose completion is the full barrier's second expected arrival. A cluster's surplus tile reads the last SFB
      // row (it stores nothing).
      auto load_sfb = [&](int stage, int kb, int n_block) {
        const int nb = n_block < params.num_n_blocks ? n_block : params.num_n_blocks - 1;
        ptx::cp_async_4(smem_sfb + stage * Traits::kTileSfbBytes,
                        params.sfb + static_cast<int64_t>(nb * kBlockN / 128) * params.num_k_blocks + kb);
        ptx::cp_async_mbarrier_arrive_noinc(&full_bar[stage]);
      };
      // SFA: the tile's BLOCK_M row scales of K block kb.
      auto load_sfa = [&](int stage, int kb, int m_block) {
        ptx::tma_load_2d(&tmap_sfa, &full_bar[stage], smem_sfa + stage * kBlockM, m_block * kBlockM, kb);
      };
      int m_block, n_block;
      bool have_tile = scheduler.next(m_block, n_block);
      int stage = 0;
      uint32_t phase = 0;
      int first_kb = 0;
      if (have_tile && params.pdl) {
        // Programmatic dependent launch: on the first pass over the (still empty) ring the weights B, which do not
        // depend on the previous kernel in the stream, are requested before griddepcontrol.wait; A and SFA
        // (typically the previous kernel's output) only after it. Without PDL the stages are filled in order (B
        // first would delay stage 0's A behind all of B: measured +5% at M <= 256).
        const int prefill = num_local_k_blocks < kStages ? num_local_k_blocks : kStages;
        for (int s = 0; s < prefill; ++s) {
          ptx::mbarrier_arrive_expect_tx(&full_bar[s], params.stage_tx_bytes);
          load_b(s, k_block_begin + s, n_block);
        }
        ptx::griddepcontrol_wait();
        for (int s = 0; s < prefill; ++s) {
          load_sfb(s, k_block_begin + s, n_block);
          load_a(s, k_block_begin + s, m_block);
          load_sfa(s, k_block_begin + s, m_block);
        }
        stage = prefill == kStages ? 0 : prefill;
        phase = prefill == kStages ? 1 : 0;
        first_kb = prefill;
      }
      for (; have_tile; have_tile = scheduler.next(m_block, n_block), first_kb = 0) {
#pragma unroll 1
        for (int kb = k_block_begin + first_kb; kb < k_block_end; ++kb) {
          ptx::mbarrier_wait(&empty_bar[stage], phase ^ 1u);
          load_sfb(stage, kb, n_block);
          ptx::mbarrier_arrive_expect_tx(&full_bar[stage], params.stage_tx_bytes);
          load_a(stage, kb, m_block);
          load_b(stage, kb, n_block);
          load_sfa(stage, kb, m_block);
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1u;
          }
        }
      }
    }
  } else {
    // ------------------------------------------------------------------ math warpgroups
    // With one math warpgroup (256 threads) every thread already has up to 255 registers.
    if constexpr (Traits::kNumMathWarpgroups > 1) ptx::setmaxnreg_inc<Traits::kMathRegs>();
    // Before reading SFB or writing any output: the previous kernel in the stream must be complete (PDL; no-op
    // otherwise).
    ptx::griddepcontrol_wait();
    constexpr int kWaves = Traits::kWaves;
    Scheduler scheduler(params.num_m_blocks, params.num_n_blocks, cta_rank, partial_row_last);
    uint8_t* my_out_tiles = smem_out + warpgroup * Traits::kOutTileBytes;
    const int row_local0 = warp_in_wg * 16 + lane / 4;
    const bool store_leader = thread_in_wg == 0;
    const uint32_t wg_barrier_id = 1 + warpgroup;
    // The tile's 64-row waves are dealt out round-robin: wave w of this warpgroup is the tile's 64-row block
    // w * kNumMathWarpgroups + warpgroup, so the two warpgroups' concurrent wgmma read neighbouring A rows (DeepGEMM's
    // order) rather than rows 128 apart.
    auto tile_wave = [&](int wave) { return wave * Traits::kNumMathWarpgroups + warpgroup; };
    int issue_stage = 0, release_stage = 0;  // the ring (two-deep kernels)
    uint32_t issue_phase = 0;
    uint32_t ring_blocks = 0;  // continuous-ring wave kernels: K blocks consumed since the kernel started
    float accum[kWaves][kNumAccum];
    uint32_t split_tiles_done = 0;  // split-K: tiles reduced so far (the reduce barriers' phase parity)

    // Hands `stage` back to the producer(s) that fill it. Every thread arrives on its own CTA's barrier: an arrive
    // has release semantics for the arriving thread's own reads of the stage (SFA, SFB by LDS), so each thread's
    // reads are ordered before the producer's next write to the stage by the memory model itself. (One arrival per
    // warp from lane 0 after __syncwarp is also ordered, through the warp barrier, but compute-sanitizer racecheck
    // does not follow that chain and reported the producer's SFB write against the other lanes' reads whenever a
    // ring stage was reused: bench/results/2026-11-25-h100-gemm-s9-race-repro-racecheck.log.) A peer CTA of a
    // cluster, whose producer multicasts only TMA data into this stage, gets one arrival per warp.
    auto release_stage_to_producers = [&](int stage) {
      ptx::mbarrier_arrive(&empty_bar[stage]);
      if constexpr (Traits::kClusterSize > 1) {
        __syncwarp();
        if (lane == 0) {
#pragma unroll
          for (int r = 0; r < Traits::kClusterSize; ++r)
            if (r != cta_rank) ptx::mbarrier_arrive_cluster(&empty_bar[stage], r);
        }
      }
    };
    // Ring version: hands the oldest issued stage back.
    auto release = [&] {
      release_stage_to_producers(release_stage);
      if (++release_stage == kStages) release_stage = 0;
    };
    auto advance_issue = [&] {
      if (++issue_stage == kStages) {
        issue_stage = 0;
        issue_phase ^= 1u;
      }
    };
    // Operand descriptors of stage 0, built once: a stage, wave or k step only advances the start address (building
    // each descriptor from its address cost ~6 integer instructions per wgmma, on the issuing warps' critical path).
    const uint64_t a_desc0 = ptx::wgmma_desc_kmajor_sw128(smem_a + tile_wave(0) * kMathWarpgroupRows * kBlockK);
    const uint64_t b_desc0 = ptx::wgmma_desc_kmajor_sw128(smem_b);
    // The 4 wgmma (k32 steps) of wave `wave` of `stage` into `dst`, as one commit group.
    auto issue_wave = [&](float(&dst)[kNumAccum], int stage, int wave) {
      const uint64_t a_desc = ptx::wgmma_desc_advance(
          a_desc0, static_cast<uint32_t>(stage * Traits::kTileABytes +
                                         wave * Traits::kNumMathWarpgroups * kMathWarpgroupRows * kBlockK));
      const uint64_t b_desc = ptx::wgmma_desc_advance(b_desc0, static_cast<uint32_t>(stage * Traits::kTileBBytes));
#pragma unroll
      for (int j = 0; j < kNumAccum; ++j) ptx::fence_operand(dst[j]);
      ptx::wgmma_fence();
#pragma unroll
      for (int k = 0; k < kBlockK / 32; ++k) {
        Wgmma::mma(ptx::wgmma_desc_advance(a_desc, k * 32), ptx::wgmma_desc_advance(b_desc, k * 32), dst, k > 0);
      }
      ptx::wgmma_commit_group();
#pragma unroll
      for (int j = 0; j < kNumAccum; ++j) ptx::fence_operand(dst[j]);
    };
    // This thread's two row scales (rows r0, r0 + 8 of wave `wave`) of `stage`.
    auto row_scales = [&](int stage, int wave, float& sfa0, float& sfa1) {
      const float* sfa_tile = smem_sfa + stage * kBlockM + tile_wave(wave) * kMathWarpgroupRows;
      sfa0 = sfa_tile[row_local0];
      sfa1 = sfa_tile[row_local0 + 8];
    };
    // The B scale of `stage`'s K block (the same for every thread: a broadcast LDS).
    auto block_scale_b = [&](int stage) {
      return *reinterpret_cast<const float*>(smem_sfb + stage * Traits::kTileSfbBytes);
    };
    // accum += partial * (sfa[row] * sfb). Rows r0 / r1 alternate in pairs (see epilogues.cuh).
    auto promote = [&](float(&dst)[kNumAccum], float(&src)[kNumAccum], float scale0, float scale1) {
#pragma unroll
      for (int j = 0; j < kNumAccum; ++j) ptx::fence_operand(src[j]);
#pragma unroll
      for (int j = 0; j < kNumAccum; ++j) dst[j] = fmaf(src[j], (j & 2) ? scale1 : scale0, dst[j]);
    };

    int m_block, n_block;
    while (scheduler.next(m_block, n_block)) {
#pragma unroll
      for (int w = 0; w < kWaves; ++w)
#pragma unroll
        for (int j = 0; j < kNumAccum; ++j) accum[w][j] = 0.0f;
      // A cluster's surplus tile (past the last M or N block, see DenseTileScheduler) only helps with the loads; it
      // stores nothing.
      const bool surplus_tile = m_block >= params.num_m_blocks || n_block >= params.num_n_blocks;
      const int num_k_blocks = num_local_k_blocks;

      if constexpr (Traits::kTwoDeep) {
        if (num_k_blocks > 0) {  // (a split-K rank may have no K blocks: it contributes zeros)
          // Two-deep software pipeline over K blocks: the wgmma of block kb+1 run on the tensor cores while this
          // warpgroup promotes block kb (wait_group<1>), so the promotion FMAs do not leave the tensor cores idle.
          // Two scratch accumulators alternate; register arrays must be indexed by constants, hence the unrolled
          // pair.
          float partial0[kNumAccum], partial1[kNumAccum];
          // Waits for K block `kb` in the ring, reads its row scales, issues its wgmma into `dst`.
          auto issue = [&](float(&dst)[kNumAccum], float& scale0, float& scale1) {
            ptx::mbarrier_wait(&full_bar[issue_stage], issue_phase);
            // The scales are read before the wgmma are issued (issued after them, these loads likely wait behind the
            // wgmma's operand reads in shared memory): -0.2..-1.2% at every M <= 256 shape, level at 2048x7168x2048
            // (bench/results/2026-11-25-h100-gemm-s10-scalesfirst-ab-summary.txt).
            float sfa0, sfa1;
            row_scales(issue_stage, 0, sfa0, sfa1);
            const float sfb = block_scale_b(issue_stage);
            issue_wave(dst, issue_stage, 0);
            scale0 = sfa0 * sfb;
            scale1 = sfa1 * sfb;
            advance_issue();
          };
          auto retire = [&](float(&src)[kNumAccum], float scale0, float scale1) {
            release();
            promote(accum[0], src, scale0, scale1);
          };
          float scale0_a, scale1_a, scale0_b, scale1_b;
          issue(partial0, scale0_a, scale1_a);
          int kb = 0;
#pragma unroll 1
          for (; kb + 2 < num_k_blocks; kb += 2) {  // steady state: block kb is in flight in partial0
            issue(partial1, scale0_b, scale1_b);
            ptx::wgmma_wait_group<1>();
            retire(partial0, scale0_a, scale1_a);
            issue(partial0, scale0_a, scale1_a);
            ptx::wgmma_wait_group<1>();
            retire(partial1, scale0_b, scale1_b);
          }
          if (kb + 1 < num_k_blocks) {  // two blocks left: kb (in flight) and kb + 1
            issue(partial1, scale0_b, scale1_b);
            ptx::wgmma_wait_group<1>();
            retire(partial0, scale0_a, scale1_a);
            ptx::wgmma_wait_group<0>();
            retire(partial1, scale0_b, scale1_b);
          } else {  // one block left
            ptx::wgmma_wait_group<0>();
            retire(partial0, scale0_a, scale1_a);
          }
        }
      } else {
        // Wave after wave: each wave's 4 wgmma go into the one scratch accumulator and are promoted as soon as
        // they complete; while this warpgroup waits and promotes, the other warpgroup's wave runs.
        //
        // The next K block's full-barrier wait and scale loads run while this block's last wave is on the tensor
        // cores (look-ahead). Measured with a clock64 probe (bench/results/2026-11-25-h100-gemm-s4-probe-*): from
        // one wave's completion to the next wave's issue a warpgroup needs ~310 cycles inside a K block (promotion
        // ~200, issue ~110) but ~500 across a K-block boundary (+ barrier wait, scale loads, loop), and the other
        // warpgroup's wave covers only ~256 of them: ~300 idle tensor cycles per 1024-cycle K block, most of them at
        // the boundary.
        float partial[kNumAccum];
        float sfb_cur, sfa0_cur[kWaves], sfa1_cur[kWaves];
        auto load_block_scales = [&](int stage, float& sfb, float(&sfa0)[kWaves], float(&sfa1)[kWaves]) {
          sfb = block_scale_b(stage);
#pragma unroll
          for (int w = 0; w < kWaves; ++w) row_scales(stage, w, sfa0[w], sfa1[w]);
        };
        // Continuous ring: the tile's first K block sits in the stage after the previous tile's last one, so the
        // producer fills the next tile's first stages while this tile's last blocks run. The loop is instantiated
        // once per possible first stage (dispatch below), which keeps every stage index a compile-time constant.
        const uint32_t first_stage = ring_blocks % kStages;
        const uint32_t first_pass = ring_blocks / kStages;
        // A warpgroup whose rows of this tile all lie past M (the last row of tiles, e.g. 192x128 at M = 4096)
        // issues no wgmma: its accumulators stay zero (its epilogue still runs, for the scale padding rows) and it
        // only walks the ring, each stage's full barrier before its release, so that its arrivals count towards the
        // stage's current round.
        const bool idle_warpgroup = static_cast<int64_t>(m_block) * kBlockM + tile_wave(0) * kMathWarpgroupRows >=
                                    static_cast<int64_t>(params.M);
        if (idle_warpgroup) {
#pragma unroll 1
          for (uint32_t b = 0; b < static_cast<uint32_t>(num_k_blocks); ++b) {
            const uint32_t ring_index = ring_blocks + b;
            const int s = static_cast<int>(ring_index % kStages);
            ptx::mbarrier_wait(&full_bar[s], (ring_index / kStages) & 1u);
            release_stage_to_producers(s);
          }
        } else {
          dispatch_first_stage<kStages>(static_cast<int>(first_stage), [&](auto first_stage_c) {
            constexpr int kS0 = decltype(first_stage_c)::value;
            ptx::mbarrier_wait(&full_bar[kS0], first_pass & 1u);
            load_block_scales(kS0, sfb_cur, sfa0_cur, sfa1_cur);
#pragma unroll 1
            for (int it = 0; it * kStages < num_k_blocks; ++it) {
#pragma unroll
              for (int j = 0; j < kStages; ++j) {
                const int kb = it * kStages + j;
                if (kb >= num_k_blocks) break;
                const int s = (kS0 + j) % kStages;
                // This block's barrier was waited for (and its scales read) by the previous block or the tile start.
                float sfb_next = 0.0f, sfa0_next[kWaves], sfa1_next[kWaves];
#pragma unroll
                for (int w = 0; w < kWaves; ++w) {
                  issue_wave(partial, s, w);
                  if (w == kWaves - 1 && kb + 1 < num_k_blocks) {
                    const int next_stage = (kS0 + j + 1) % kStages;
                    const uint32_t next_parity = (first_pass + it + (kS0 + j + 1) / kStages) & 1u;
                    ptx::mbarrier_wait(&full_bar[next_stage], next_parity);
                    load_block_scales(next_stage, sfb_next, sfa0_next, sfa1_next);
                  }
                  ptx::wgmma_wait_group<0>();
                  if (w == kWaves - 1) release_stage_to_producers(s);
                  promote(accum[w], partial, sfa0_cur[w] * sfb_cur, sfa1_cur[w] * sfb_cur);
                }
                sfb_cur = sfb_next;
#pragma unroll
                for (int w = 0; w < kWaves; ++w) {
                  sfa0_cur[w] = sfa0_next[w];
                  sfa1_cur[w] = sfa1_next[w];
                }
              }
            }
          });
        }
        ring_blocks += static_cast<uint32_t>(num_k_blocks);
      }

      // ---------------------------------------------------------------- split-K reduction
      if constexpr (Traits::kSplitK > 1) {
        // Ranks 1.. store their partial accumulators into rank 0 and move on to their next tile; rank 0 adds them in
        // rank order (the same order every run: deterministic) and continues with the epilogue.
        constexpr int kVecs = kNumAccum / 4;
        const int math_thread = warpgroup * 128 + thread_in_wg;
        const uint32_t slot0 = ptx::smem_addr(smem_reduce) + static_cast<uint32_t>(math_thread) * 16u;
        constexpr uint32_t kVecStride = Traits::kNumMathThreads * 16u;  // bytes between accumulator quads
        if (cta_rank != 0) {
          // Rank 0 must have read this rank's previous partials before they are overwritten.
          if (split_tiles_done > 0) ptx::mbarrier_wait_acquire_cluster(reduce_free_bar, (split_tiles_done - 1) & 1u);
          const uint32_t dst = ptx::mapa_shared(slot0 + static_cast<uint32_t>(cta_rank - 1) * kVecs * kVecStride, 0);
          const uint32_t bar = ptx::mapa_shared(ptx::smem_addr(reduce_full_bar), 0);
#pragma unroll
          for (int v = 0; v < kVecs; ++v)
            ptx::st_async_v4(dst + v * kVecStride, accum[0][4 * v], accum[0][4 * v + 1], accum[0][4 * v + 2],
                             accum[0][4 * v + 3], bar);
          ++split_tiles_done;
          continue;
        }
        if (threadIdx.x == 0) ptx::mbarrier_arrive_expect_tx(reduce_full_bar, Traits::kReduceBytes);
        ptx::mbarrier_wait(reduce_full_bar, split_tiles_done & 1u);
#pragma unroll
        for (int r = 1; r < Traits::kSplitK; ++r) {
#pragma unroll
          for (int v = 0; v < kVecs; ++v) {
            const float4 x = ptx::ld_shared_v4f(slot0 + static_cast<uint32_t>((r - 1) * kVecs + v) * kVecStride);
            accum[0][4 * v] += x.x;
            accum[0][4 * v + 1] += x.y;
            accum[0][4 * v + 2] += x.z;
            accum[0][4 * v + 3] += x.w;
          }
        }
        __syncwarp();  // every lane's reads are done before lane 0 hands the buffer back
        if (lane == 0) {
#pragma unroll
          for (int r = 1; r < Traits::kSplitK; ++r) ptx::mbarrier_arrive_release_cluster(reduce_free_bar, r);
        }
        ++split_tiles_done;
      }

      // ---------------------------------------------------------------- epilogue
      if (surplus_tile) continue;
      const int64_t tile_row0 = static_cast<int64_t>(m_block) * kBlockM;
#pragma unroll
      for (int w = 0; w < kWaves; ++w) {
        uint32_t out_offset = static_cast<uint32_t>(my_out_tiles - smem_raw) +
                              (Traits::kOutSubtiles == 1 ? 0 : w) * Traits::kOutSubtileBytes;
        if (w == 0 || Traits::kOutSubtiles == 1) {
          // The TMA store that last used this subtile must have finished reading it before we overwrite it.
          if (store_leader) ptx::tma_store_wait_read();
          ptx::named_barrier_sync(wg_barrier_id, 128);
        }
        const int64_t wave_row = tile_row0 + tile_wave(w) * kMathWarpgroupRows;
        // Opaque copies: otherwise the compiler hoists the epilogue's per-thread smem addresses (loop-invariant)
        // out of the tile loop and keeps them live through the main loop, where the registers are needed (the
        // bf16 128x128 epilogue spilled 168 bytes that way).
        // The subtile goes through as an offset from smem_raw, so the compiler still sees a shared-memory address.
        int row_local = row_local0, quad_lane = lane % 4;
        asm volatile("" : "+r"(out_offset), "+r"(row_local), "+r"(quad_lane));
        uint8_t* out_tile = smem_raw + out_offset;
        const EpilogueThreadCtx ctx{ptx::smem_addr(out_tile), row_local, quad_lane, wave_row + row_local0,
                                    n_block * kBlockN, &params};
        const auto pending_scales = Epilogue::template apply<kBlockN>(accum[w], ctx);

        ptx::fence_proxy_async_shared();  // st.shared above -> visible to the TMA store (async proxy)
        ptx::named_barrier_sync(wg_barrier_id, 128);
        if (store_leader && wave_row < params.M) {
          using OutLayout = typename Traits::OutLayout;
#pragma unroll
          for (int box = 0; box < OutLayout::kNumBoxes; ++box) {
            const int col = n_block * kBlockN + box * OutLayout::kBoxBytes / Epilogue::kOutBytes;
            ptx::tma_store_2d(&tmap_d, out_tile + box * OutLayout::kBoxSmemBytes, col, static_cast<int32_t>(wave_row));
          }
          ptx::tma_store_commit();
        }
        pending_scales.store(ctx);
      }
      if constexpr (Epilogue::kBlockedScales) {
        fill_blocked_scale_padding<kBlockM, kBlockN, Traits::kNumMathThreads>(params, m_block, n_block,
                                                                              warpgroup * 128 + thread_in_wg);
      }
    }
    // Before the CTA exits its stores must have finished reading shared memory; their global writes complete with
    // the grid (waiting for them here, as wait_group without .read does, kept every CTA ~1 us longer at small M).
    if (store_leader) ptx::tma_store_wait_read();
  }
  // No CTA may leave while its peer can still multicast into its shared memory or arrive on its barriers.
  if constexpr (Traits::kClusterCtas > 1) ptx::cluster_sync();
#endif
}

}  // namespace mxgemm::kernels
