// The FP8 tensor-core ceiling under the power cap: how fast can any GEMM's main loop be on this H100?
//
// The H100 here runs GEMMs at its power cap (the SM clock moves with the load, see bench_gemm.cu's Interleaved), so
// the spec's 1979 TFLOP/s (1830 MHz) is not what a kernel can reach. This kernel issues only wgmma, the GEMM's own
// m64n128k32 with both operands in shared memory, on random e4m3 data: no loads, no promotion, no epilogue. Its rate
// is what a main loop of this instruction could reach on the same machine if nothing else cost time or power.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bench_ceiling.h"
#include "bench_util.h"
#include "mxgemm/format_rules.h"
#include "ptx/wgmma.cuh"

namespace mxgemm::bench {
namespace {

constexpr int kWarpgroups = 2, kWaves = 2, kN = 128;
constexpr int kTileABytes = kWarpgroups * kWaves * 64 * 128;  // 256 rows x 128 bytes of K
constexpr int kTileBBytes = kN * 128;
// Shared memory requested: more than half of an SM's, so exactly one CTA runs per SM (as in the GEMM).
constexpr int kSmemBytes = 160 * 1024;
constexpr double kFlopsPerCtaIteration = 2.0 * kWarpgroups * kWaves * 64.0 * kN * 128.0;

__global__ void __launch_bounds__(kWarpgroups * 128, 1)
    wgmma_ceiling_kernel(const uint8_t* __restrict__ operands, long long iterations, float* sink) {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + ((1024u - (addr & 1023u)) & 1023u);
  for (int i = static_cast<int>(threadIdx.x); i < (kTileABytes + kTileBBytes) / 16; i += blockDim.x)
    reinterpret_cast<uint4*>(smem)[i] = reinterpret_cast<const uint4*>(operands)[i];
  __syncthreads();

  using Wgmma = ptx::WgmmaFp8<kN>;
  const int warpgroup = static_cast<int>(threadIdx.x) / 128;
  float accum[kWaves][Wgmma::kNumAccum];
#pragma unroll
  for (int w = 0; w < kWaves; ++w)
#pragma unroll
    for (int j = 0; j < Wgmma::kNumAccum; ++j) accum[w][j] = 0.0f;
  // The GEMM's wave order: wave w of warpgroup g reads the tile's 64-row block 2w + g.
  const uint64_t a_desc = ptx::wgmma_desc_kmajor_sw128(smem + warpgroup * 64 * 128);
  const uint64_t b_desc = ptx::wgmma_desc_kmajor_sw128(smem + kTileABytes);
  for (long long it = 0; it < iterations; ++it) {
    ptx::wgmma_fence();
#pragma unroll
    for (int w = 0; w < kWaves; ++w) {
#pragma unroll
      for (int k = 0; k < 4; ++k)
        Wgmma::mma(ptx::wgmma_desc_advance(a_desc, w * kWarpgroups * 64 * 128 + k * 32),
                   ptx::wgmma_desc_advance(b_desc, k * 32), accum[w], true);
      ptx::wgmma_commit_group();
    }
    // One wave group in flight past this point, as a pipelined main loop keeps it.
    ptx::wgmma_wait_group<1>();
  }
  ptx::wgmma_wait_group<0>();
  float sum = 0.0f;
#pragma unroll
  for (int w = 0; w < kWaves; ++w)
#pragma unroll
    for (int j = 0; j < Wgmma::kNumAccum; ++j) sum += accum[w][j];
  sink[blockIdx.x * blockDim.x + threadIdx.x] = sum;
#endif
}

}  // namespace

WgmmaCeiling wgmma_ceiling(const BenchContext& ctx, double target_us) {
  int device = 0, sms = 0;
  check_cuda(cudaGetDevice(&device), "ceiling: device");
  check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "ceiling: SM count");
  // Random normal values cast to e4m3, like the GEMM rows' operands.
  std::vector<uint8_t> host(kTileABytes + kTileBBytes);
  Rng rng(77);
  for (auto& b : host) b = rules::e4m3_satfinite(static_cast<float>(rng.normal()));
  DeviceBuffer operands(host.size());
  operands.upload(host.data(), host.size());
  DeviceBuffer sink(static_cast<size_t>(sms) * kWarpgroups * 128 * sizeof(float));
  check_cuda(cudaFuncSetAttribute(wgmma_ceiling_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes),
             "ceiling: smem attribute");
  auto run = [&](long long iterations) {
    return time_us(ctx, [&] {
      wgmma_ceiling_kernel<<<sms, kWarpgroups * 128, kSmemBytes, ctx.stream>>>(operands.as<uint8_t>(), iterations,
                                                                               sink.as<float>());
      check_cuda(cudaGetLastError(), "ceiling: launch");
    });
  };
  // Size the run from a short one: the rate of a short run is higher (the clock has not come down yet).
  const long long probe_iterations = 64;
  const double probe_us = run(probe_iterations);
  WgmmaCeiling c;
  c.iterations = std::max(probe_iterations, static_cast<long long>(probe_iterations * target_us / probe_us));
  c.us = run(c.iterations);
  c.us_double = run(2 * c.iterations);
  const double flops = kFlopsPerCtaIteration * sms * static_cast<double>(c.iterations);
  c.tflops = c.us_double > c.us ? flops / (c.us_double - c.us) / 1e6 : 0.0;
  c.tflops_whole = flops / c.us / 1e6;
  return c;
}

}  // namespace mxgemm::bench
