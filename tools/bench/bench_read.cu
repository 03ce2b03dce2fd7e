// mxgemm-bench --mode read: what streaming the weights alone costs, beside the fused GEMM that streams them.
//
// PEERS.md's small-M floor is bytes / 3.0 TB/s, the device-to-device copy rate of a large copy. A GEMM at M <= 256
// reads little else than B (N x K bytes), so the question "how close to the floor can it get" has a kernel-level
// answer: time kernels that do nothing but read those bytes (no math, no stores) with the same method as the GEMM
// rows, and the fused GEMM itself in the same run. Two readers, each over a small sweep of launch shapes:
//   read_ldg:  every thread streams 16-byte ld.global.nc loads, 8 in flight, grid-strided;
//   read_bulk: one thread per CTA streams the CTA's contiguous share with 1D bulk copies (TMA) into a ring of
//              shared-memory slots (the GEMM's load path without the tensor maps);
//   read_tma2d (only with MXGEMM_BENCH_READ_TMA2D=1, a diagnostic that adds ten probes per shape): the GEMM's own
//              load pattern without the math, 2D TMA boxes of [64 or 128 rows x 128 bytes] (128-byte swizzle) walking
//              each row panel's K blocks, one panel (or one K share of it) per CTA, optionally with the 64x64 tiles'
//              CTAs per panel, their A boxes, and an L2 prefetch of each row's next 1 KiB. Session 10 on the H100
//              (bench/results/2026-11-25-h100-gemm-s10-read-tma2d*): the boxes cost 5-9% over the contiguous
//              readers, the prefetch costs more, and the loads of the 64x64 GEMM alone stay ~2.5 us below the GEMM.
// Times are CUDA events around one launch after an L2 flush (as every bench row); the event overhead of an empty
// launch is measured and recorded too. For kernel durations, run this mode under ncu (scripts/gpu_check.sh does).
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_read.h"
#include "bench_util.h"
#include "host/tensor_map.h"
#include "mxgemm/mxgemm.h"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"

namespace mxgemm::bench {
namespace {

constexpr uint32_t kSinkMagic = 0x9e3779b9u;  // never produced in practice; keeps the loads alive

__global__ void read_stream_ldg(const uint4* __restrict__ p, size_t n16, unsigned* sink) {
  uint32_t acc = 0;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 7 * stride < n16; i += 8 * stride) {
    uint4 v[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                   : "=r"(v[j].x), "=r"(v[j].y), "=r"(v[j].z), "=r"(v[j].w)
                   : "l"(p + i + j * stride));
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) acc ^= v[j].x ^ v[j].y ^ v[j].z ^ v[j].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == kSinkMagic) sink[0] = acc;
}

// Issues the first kSlots reads, then waits for each slot in turn and refills it, so kSlots reads stay in flight.
// Returns an XOR of one word of every slot, which keeps the reads from being optimised away.
template <int kSlots, class Issue>
__device__ __forceinline__ uint32_t stream_through_ring(uint64_t* bar, const uint8_t* slots, uint32_t slot_bytes, int n,
                                                        Issue&& issue) {
  for (int it = 0; it < kSlots && it < n; ++it) issue(it);
  uint32_t acc = 0;
  for (int it = 0; it < n; ++it) {
    const int s = it % kSlots;
    ptx::mbarrier_wait(&bar[s], static_cast<uint32_t>((it / kSlots) & 1));
    acc ^= *reinterpret_cast<const volatile uint32_t*>(slots + s * slot_bytes);
    if (it + kSlots < n) issue(it + kSlots);
  }
  return acc;
}

template <int kSlots, int kSlotBytes>
__global__ void read_stream_bulk(const uint8_t* __restrict__ p, size_t bytes, unsigned* sink) {
  extern __shared__ __align__(128) uint8_t slots[];
  __shared__ __align__(8) uint64_t bar[kSlots];
  const size_t share = (bytes / gridDim.x + kSlotBytes - 1) / kSlotBytes * kSlotBytes;
  const size_t begin = share * blockIdx.x;
  const size_t end = begin + share < bytes ? begin + share : bytes;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kSlots; ++s) ptx::mbarrier_init(&bar[s], 1);
    ptx::fence_mbarrier_init();
  }
  __syncthreads();
  if (threadIdx.x != 0 || begin >= end) return;
  const int n = static_cast<int>((end - begin + kSlotBytes - 1) / kSlotBytes);
  auto issue = [&](int it) {
    const int s = it % kSlots;
    const size_t off = begin + static_cast<size_t>(it) * kSlotBytes;
    const uint32_t size = static_cast<uint32_t>(end - off < kSlotBytes ? end - off : kSlotBytes);
    ptx::mbarrier_arrive_expect_tx(&bar[s], size);
    ptx::bulk_load_1d(&bar[s], slots + s * kSlotBytes, p + off, size);
  };
  const uint32_t acc = stream_through_ring<kSlots>(bar, slots, kSlotBytes, n, issue);
  if (acc == kSinkMagic) sink[0] = acc;
}

// The GEMM's load pattern without its math. CTA b takes row panel b / (k_split * m_blocks) (kBoxRows rows of the
// [rows, K] weight matrix), K share (b / m_blocks) % k_split, and activation block b % m_blocks: m_blocks CTAs read
// each weight panel, as the GEMM's tiles of one N block do. One [kBoxRows x 128 B] box per K block (plus, when
// with_a, the activations' [64 x 128 B] box of its m block, as the GEMM's A), through a ring of kSlots slots; one
// thread issues and waits, as the GEMM's producer does. prefetch_kb > 0: every 8 K blocks the thread also asks L2
// for the next 1 KiB of each of its panel's rows, prefetch_kb K blocks ahead (cp.async.bulk.prefetch.L2), so that
// HBM sees 1 KiB runs per row instead of 128-byte pieces spread over the ring's lifetime.
template <int kSlots, int kBoxRows>
__global__ void read_stream_tma2d(const __grid_constant__ CUtensorMap map, const __grid_constant__ CUtensorMap map_a,
                                  const uint8_t* weights, int64_t k_bytes, int num_k_blocks, int k_split, int m_blocks,
                                  bool with_a, int prefetch_kb, unsigned* sink) {
  constexpr uint32_t kBoxBytes = kBoxRows * 128, kBoxABytes = 64 * 128;
  const uint32_t slot_bytes = kBoxBytes + (with_a ? kBoxABytes : 0);
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  __shared__ __align__(8) uint64_t bar[kSlots];
  // 128-byte-swizzled boxes need 1024-byte aligned destinations (the dynamic allocation has 1 KiB of slack).
  const uint32_t raw_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* slots = smem_raw + ((1024u - (raw_addr & 1023u)) & 1023u);
  const int b = static_cast<int>(blockIdx.x);
  const int panel = b / (k_split * m_blocks), part = (b / m_blocks) % k_split, m_block = b % m_blocks;
  const int kb0 = part * num_k_blocks / k_split, kb1 = (part + 1) * num_k_blocks / k_split;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kSlots; ++s) ptx::mbarrier_init(&bar[s], 1);
    ptx::fence_mbarrier_init();
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  const int n = kb1 - kb0;
  auto prefetch_rows = [&](int kb) {
    if (kb >= kb1) return;
    const int64_t off = static_cast<int64_t>(kb) * 128;
    const uint32_t bytes = static_cast<uint32_t>(k_bytes - off < 1024 ? k_bytes - off : 1024);
    for (int r = 0; r < kBoxRows; ++r)
      ptx::bulk_prefetch_l2(weights + (static_cast<int64_t>(panel) * kBoxRows + r) * k_bytes + off, bytes);
  };
  if (prefetch_kb > 0)
    for (int kb = kb0; kb < kb0 + prefetch_kb; kb += 8) prefetch_rows(kb);
  auto issue = [&](int it) {
    const int s = it % kSlots;
    const int kb = kb0 + it;
    if (prefetch_kb > 0 && (kb - kb0) % 8 == 0) prefetch_rows(kb + prefetch_kb);
    ptx::mbarrier_arrive_expect_tx(&bar[s], slot_bytes);
    ptx::tma_load_2d(&map, &bar[s], slots + s * slot_bytes, kb * 128, panel * kBoxRows);
    if (with_a) ptx::tma_load_2d(&map_a, &bar[s], slots + s * slot_bytes + kBoxBytes, kb * 128, m_block * 64);
  };
  const uint32_t acc = stream_through_ring<kSlots>(bar, slots, slot_bytes, n, issue);
  if (acc == kSinkMagic) sink[0] = acc;
}

__global__ void empty_launch() {}

struct Probe {
  std::string name;  // "ldg grid=528 threads=512", ...
  double us;
};

}  // namespace

std::vector<BenchRow> bench_read(const BenchContext& ctx, const std::vector<GemmShape>& shapes) {
  std::vector<BenchRow> rows;
  const DeviceDesc dev = describe_device();
  DeviceBuffer sink(4);
  const double empty_us = time_us(ctx, [&] { empty_launch<<<dev.sms, 32, 0, ctx.stream>>>(); });
  std::printf("read mode: an empty launch reads %.2f us with this timing (the events' own overhead)\n", empty_us);
  constexpr int kBulkSlots = 6, kBulkSlotBytes = 32768;
  check_cuda(cudaFuncSetAttribute(read_stream_bulk<kBulkSlots, kBulkSlotBytes>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, kBulkSlots * kBulkSlotBytes),
             "cudaFuncSetAttribute(read_stream_bulk)");

  // The 2D TMA box readers are opt-in: a diagnostic of the GEMM's load path, not a floor (see the header).
  const char* tma2d_env = std::getenv("MXGEMM_BENCH_READ_TMA2D");
  const bool read_tma2d = tma2d_env != nullptr && tma2d_env[0] == '1';
  constexpr int kTmaSlots = 12;

  OutFormatChoice mxfp8;
  parse_out_format("mxfp8", &mxfp8);  // RCEIL, compact scales
  for (const GemmShape& sh : shapes) {
    if (sh.M > 256) continue;  // the memory-bound shapes only
    // The GEMM's inputs; the readers stream its weight buffer B (N x K bytes, a multiple of 16 since K % 16 == 0).
    const GemmInputs in = make_gemm_inputs(sh, 0x5eedull + static_cast<uint64_t>(sh.N * sh.K));
    const size_t weight_bytes = in.db.bytes();
    const DeviceBuffer& w = in.db;
    std::vector<Probe> probes;
    for (int per_sm : {1, 2, 4, 8})
      for (int threads : {256, 512, 1024}) {
        const int grid = dev.sms * per_sm;
        const double us = time_us(ctx, [&] {
          read_stream_ldg<<<grid, threads, 0, ctx.stream>>>(w.as<const uint4>(), weight_bytes / 16, sink.as<unsigned>());
        });
        probes.push_back({"ldg grid=" + std::to_string(grid) + " threads=" + std::to_string(threads), us});
      }
    for (int grid : {dev.sms * 112 / 132, dev.sms, 2 * dev.sms}) {
      const double us = time_us(ctx, [&] {
        read_stream_bulk<kBulkSlots, kBulkSlotBytes><<<grid, 32, kBulkSlots * kBulkSlotBytes, ctx.stream>>>(
            w.as<const uint8_t>(), weight_bytes, sink.as<unsigned>());
      });
      probes.push_back({"bulk grid=" + std::to_string(grid) + " slots=6x32KiB", us});
    }
    if (read_tma2d) {
      const int num_k_blocks = static_cast<int>((sh.K + 127) / 128);
      const int m_blocks = static_cast<int>((sh.M + 63) / 64);  // the 64x64 tiles' M blocks
      const CUtensorMap map_a = host::make_tensor_map_2d("activations", in.da.get(), 1, sh.M, sh.K, sh.K, 64, 128, 128);
      struct Variant {
        int rows, k_split;
        bool per_m_block;  // one CTA per M block of each panel (all reading the panel), as the GEMM's 64x64 tiles
        bool with_a;
        int prefetch_kb;
      };
      const Variant variants[] = {{64, 1, false, false, 0},  {64, 2, false, false, 0},  {128, 1, false, false, 0},
                                  {128, 2, false, false, 0}, {64, 1, true, false, 0},   {64, 1, true, true, 0},
                                  {64, 2, false, false, 16}, {64, 1, true, false, 16},  {64, 1, true, true, 16},
                                  {64, 1, true, true, 32}};
      for (const Variant& v : variants) {
        if (sh.N % v.rows != 0 || (v.with_a && sh.M < 64)) continue;  // (mostly out-of-bounds A boxes are slow)
        const int per_panel = v.per_m_block ? m_blocks : 1;
        const int grid = static_cast<int>(sh.N / v.rows) * v.k_split * per_panel;
        const int slot_bytes = v.rows * 128 + (v.with_a ? 64 * 128 : 0);
        const int slots_bytes = kTmaSlots * slot_bytes + 1024;
        auto kernel = v.rows == 64 ? read_stream_tma2d<kTmaSlots, 64> : read_stream_tma2d<kTmaSlots, 128>;
        check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, slots_bytes),
                   "cudaFuncSetAttribute(read_stream_tma2d)");
        const CUtensorMap map =
            host::make_tensor_map_2d("weights", w.get(), 1, sh.N, sh.K, sh.K, v.rows, 128, 128);
        const double us = time_us(ctx, [&] {
          kernel<<<grid, 32, slots_bytes, ctx.stream>>>(map, map_a, w.as<const uint8_t>(), sh.K, num_k_blocks,
                                                         v.k_split, per_panel, v.with_a, v.prefetch_kb,
                                                         sink.as<unsigned>());
        });
        probes.push_back({"tma2d rows=" + std::to_string(v.rows) + " k_split=" + std::to_string(v.k_split) +
                              " per_panel=" + std::to_string(per_panel) + (v.with_a ? " +A" : "") +
                              " pf=" + std::to_string(v.prefetch_kb) + " grid=" + std::to_string(grid),
                          us});
      }
    }
    check_cuda(cudaGetLastError(), "read probes");
    const auto best = std::min_element(probes.begin(), probes.end(),
                                       [](const Probe& a, const Probe& b) { return a.us < b.us; });

    // The fused GEMM (mxfp8 out, RCEIL, compact scales) of the same shape, same timing.
    DeviceBuffer out(static_cast<size_t>(sh.M * sh.N) * elem_bytes(mxfp8)),
        scales(scale_buffer_bytes(mxfp8, sh.M, sh.N));
    GemmNTArgs g;
    g.M = sh.M;
    g.N = sh.N;
    g.K = sh.K;
    g.a = in.da.get();
    g.b = in.db.get();
    g.sfa = in.dsfa.as<const float>();
    g.sfb = in.dsfb.as<const float>();
    g.out = make_spec(mxfp8, out.get(), scales.get());
    const double gemm_us = time_us(ctx, [&] { fp8_gemm_nt(g, ctx.stream); });

    BenchRow r;
    r.op = "read_weights";
    r.M = sh.M;
    r.N = sh.N;
    r.K = sh.K;
    r.format = "-";
    r.mxgemm_us = best->us;
    r.peers["fused_mxfp8_gemm"] = gemm_us;
    r.extra["weight_bytes"] = static_cast<double>(weight_bytes);
    r.extra["read_TBps"] = weight_bytes / best->us * 1e-6;
    r.extra["empty_launch_us"] = empty_us;
    r.extra["gemm_over_read"] = gemm_us / best->us;
    for (const Probe& p : probes) r.extra["probe " + p.name] = p.us;
    r.verified = false;
    r.note = "best reader: " + best->name + "; mxgemm_us is the reader, not a GEMM";
    std::printf("read %zu weight bytes (%ldx%ldx%ld): best %s %.2f us (%.2f TB/s incl. events), fused GEMM %.2f us\n",
                weight_bytes, sh.M, sh.N, sh.K, best->name.c_str(), best->us, weight_bytes / best->us * 1e-6, gemm_us);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace mxgemm::bench
