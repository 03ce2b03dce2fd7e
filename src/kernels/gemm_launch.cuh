// Definition of the GEMM launcher template: tensor maps for the chosen tile, shared-memory opt-in, persistent grid.
// Included only by the instantiation units (gemm_instances_*.cu).
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

#include "host/tensor_map.h"
#include "kernels/gemm_launch.h"
#include "kernels/sm90_fp8_gemm_1d2d.cuh"

namespace mxgemm::kernels {

template <int kBlockM, int kBlockN, int kClusterM, int kClusterN, int kSplitK, class Epilogue>
void launch_sm90_fp8_gemm_1d2d(const DenseProblem& problem, cudaStream_t stream) {
  using Traits = GemmKernelTraits<kBlockM, kBlockN, kClusterM, kClusterN, Epilogue, kSplitK>;
  // CTAs per cluster: a pair sharing an operand tile, or the kSplitK CTAs of a split-K tile.
  constexpr int kClusterSize = Traits::kClusterCtas;
  using OutLayout = typename Traits::OutLayout;
  const GemmNTArgs& a = problem.args;

  // Rows of A (and SFA) one stage loads: BLOCK_M, or pad(M, 8) when the whole problem is shorter than a tile
  // (see GemmParams::stage_tx_bytes). Rows of the smem tile beyond it keep stale data that only reaches output rows
  // >= M (wgmma rows are independent), which are clipped by the TMA store and the scale-store guards.
  // With A shared by a cluster along N each CTA loads (and multicasts) BLOCK_M / 2 rows of it; the short-M box
  // does not apply there (the halves must tile the whole BLOCK_M).
  const int a_box_rows = a.M < kBlockM && kClusterN == 1 ? static_cast<int>((a.M + 7) / 8 * 8) : kBlockM;
  const CUtensorMap tmap_a =
      host::make_tensor_map_2d("A", a.a, 1, a.M, a.K, a.lda, a_box_rows / kClusterN, kBlockK, 128);
  const CUtensorMap tmap_b =
      host::make_tensor_map_2d("B", a.b, 1, a.N, a.K, a.ldb, kBlockN / kClusterM, kBlockK, 128);
  const int64_t num_k_blocks = (a.K + kBlockK - 1) / kBlockK;
  // SFA is MN-major: a [num_k_blocks, M] matrix with row pitch ldsfa; one box = the tile's BLOCK_M scales of a
  // K block (rows past M read as zero).
  const CUtensorMap tmap_sfa =
      host::make_tensor_map_2d("SFA", a.sfa, 4, num_k_blocks, a.M, a.ldsfa, 1, a_box_rows, 0);
  const CUtensorMap tmap_d =
      host::make_tensor_map_2d("D", a.out.data, Epilogue::kOutBytes, a.M, a.N, a.out.ld, kMathWarpgroupRows,
                               OutLayout::kBoxBytes / Epilogue::kOutBytes, OutLayout::kBoxBytes);

  GemmParams params;
  params.M = static_cast<int32_t>(a.M);
  params.N = static_cast<int32_t>(a.N);
  params.K = static_cast<int32_t>(a.K);
  params.num_k_blocks = static_cast<int32_t>(num_k_blocks);
  params.num_m_blocks = static_cast<int32_t>((a.M + kBlockM - 1) / kBlockM);
  params.num_n_blocks = static_cast<int32_t>((a.N + kBlockN - 1) / kBlockN);
  params.sfb = a.sfb;
  params.out_scales = a.out.scales;
  params.scale_cols = (a.N + 31) / 32;
  params.scale_ld = mn_major_ld(a.M);
  params.stage_tx_bytes = static_cast<uint32_t>(a_box_rows * kBlockK + Traits::kTileBBytes + a_box_rows * 4);
  params.pdl = a.pdl ? 1u : 0u;

  auto kernel = sm90_fp8_gemm_1d2d_kernel<Traits>;
  // The shared-memory opt-in is per device and sticks: do it once per device (it is a slow driver call).
  static std::atomic<uint64_t> smem_opted_in{0};
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  const uint64_t device_bit = device < 64 ? (uint64_t{1} << device) : 0;
  if (err != cudaSuccess || (smem_opted_in.load(std::memory_order_acquire) & device_bit) == 0) {
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Traits::kSmemBytes);
    if (err != cudaSuccess)
      throw Error(ErrorCode::kCudaError, std::string("cudaFuncSetAttribute(MaxDynamicSharedMemorySize): ") +
                                             cudaGetErrorString(err));
    smem_opted_in.fetch_or(device_bit, std::memory_order_acq_rel);
  }
  // Persistent grid: one CTA per SM (clusters: as many as can be resident at once, queried once per device). A unit
  // is the work of one cluster: a pair of tiles sharing an operand, or one tile split over kSplitK CTAs.
  const int num_units =
      ((params.num_m_blocks + kClusterM - 1) / kClusterM) * ((params.num_n_blocks + kClusterN - 1) / kClusterN);
  int max_units = problem.num_sms / kClusterSize;
  cudaLaunchConfig_t config{};
  cudaLaunchAttribute attrs[2]{};
  config.blockDim = dim3(Traits::kNumThreads);
  config.dynamicSmemBytes = Traits::kSmemBytes;
  config.stream = stream;
  config.attrs = attrs;
  if (a.pdl) {
    attrs[config.numAttrs].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[config.numAttrs].val.programmaticStreamSerializationAllowed = 1;
    ++config.numAttrs;
  }
  if constexpr (kClusterSize > 1) {
    cudaLaunchAttribute& attr = attrs[config.numAttrs++];
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = kClusterSize;
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    // How many clusters fit at once, queried once per device (a slow driver call; it depends on the device's SM
    // count and cluster placement, so a process with several GPUs keeps one answer per device). 0 = unknown.
    static std::atomic<int> max_clusters_by_device[64];
    const int dev_slot = device >= 0 && device < 64 ? device : -1;
    int max_clusters = dev_slot >= 0 ? max_clusters_by_device[dev_slot].load(std::memory_order_relaxed) : 0;
    if (max_clusters == 0) {
      int n = 0;
      config.gridDim = dim3(kClusterSize * max_units);
      if (cudaOccupancyMaxActiveClusters(&n, kernel, &config) == cudaSuccess && n > 0) {
        max_clusters = n;
        if (dev_slot >= 0) max_clusters_by_device[dev_slot].store(n, std::memory_order_relaxed);
      }
    }
    if (max_clusters > 0 && max_clusters < max_units) max_units = max_clusters;
  }
  config.gridDim = dim3(kClusterSize * (num_units < max_units ? num_units : max_units));
  if (problem.debug)
    std::fprintf(stderr,
                 "[mxgemm] launch %dx%d cluster %dx%d split-K %d: grid %u CTAs (%d units, %d slots), %d stages, %d B "
                 "smem\n",
                 kBlockM, kBlockN, kClusterM, kClusterN, kSplitK, config.gridDim.x, num_units, max_units,
                 Traits::kNumStages, Traits::kSmemBytes);
  err = cudaLaunchKernelEx(&config, kernel, tmap_a, tmap_b, tmap_sfa, tmap_d, params);
  if (err != cudaSuccess)
    throw Error(ErrorCode::kCudaError, std::string("sm90_fp8_gemm_1d2d launch: ") + cudaGetErrorString(err));
  err = cudaGetLastError();
  if (err != cudaSuccess)
    throw Error(ErrorCode::kCudaError, std::string("sm90_fp8_gemm_1d2d launch: ") + cudaGetErrorString(err));
}

}  // namespace mxgemm::kernels
