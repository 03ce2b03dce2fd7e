// GPU tests of the dense FP8 GEMM with fused quantized epilogues (issue 5's "Proof").
//
// Exact inputs (e4m3 small integers, power-of-two scales): FP32 accumulation is exact, so every output byte and
// every scale byte must equal the CPU reference's, for every format, rule, layout and tile config. Random inputs:
// relative error of the dequantized output against the FP64 reference. Outputs are poisoned before each run and
// followed by a guard region that must stay untouched.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gpu_test_util.h"
#include "host/gemm_dispatch.h"
#include "mxgemm/mxgemm.h"
#include "mxgemm/reference.h"

namespace mxgemm::testing {
namespace {

struct FormatCase {
  OutFormat format;
  ScaleRule rule;
  ScaleLayout layout;
  const char* name;
};

constexpr FormatCase kFormats[] = {
    {OutFormat::kBF16, ScaleRule::kRCEIL, ScaleLayout::kCompact, "bf16"},
    {OutFormat::kMXFP8, ScaleRule::kRCEIL, ScaleLayout::kCompact, "mxfp8_rceil_compact"},
    {OutFormat::kMXFP8, ScaleRule::kRCEIL, ScaleLayout::kBlocked128x4, "mxfp8_rceil_blocked"},
    {OutFormat::kMXFP8, ScaleRule::kFLOOR, ScaleLayout::kCompact, "mxfp8_floor_compact"},
    {OutFormat::kMXFP8, ScaleRule::kFLOOR, ScaleLayout::kBlocked128x4, "mxfp8_floor_blocked"},
    {OutFormat::kG128FP32, ScaleRule::kRCEIL, ScaleLayout::kCompact, "g128_fp32"},
    {OutFormat::kG128UE8M0, ScaleRule::kRCEIL, ScaleLayout::kCompact, "g128_ue8m0"},
};

// A tile config (see host::TileSpec); {0, 0} = the cost model's choice.
struct Tile : host::TileSpec {
  Tile(int bm, int bn, int cm = 1, int cn = 1, int sk = 1) : host::TileSpec{bm, bn, cm, cn, sk} {}
  std::string name() const { return host::describe_tile_spec(*this); }
};
// The tiles compiled for an epilogue (scripts/gen_gemm_instances.py).
std::vector<Tile> tiles_for(OutFormat f) {
  if (f == OutFormat::kG128FP32 || f == OutFormat::kG128UE8M0)
    return {{64, 128},          {128, 128},         {128, 128, 2, 1}, {192, 128},         {256, 128},
            {256, 128, 2, 1},   {256, 128, 1, 2},   {64, 128, 1, 1, 2}, {64, 128, 1, 1, 4}, {128, 128, 1, 1, 2}};
  return {{64, 64},          {64, 128},         {128, 64},           {128, 128},        {128, 128, 2, 1},
          {192, 128},        {256, 128},        {256, 128, 2, 1},    {256, 128, 1, 2},  {64, 64, 1, 1, 2},
          {64, 64, 1, 1, 4}, {64, 128, 1, 1, 2}, {128, 64, 1, 1, 2}, {128, 128, 1, 1, 2}};
}

int64_t pad4(int64_t x) { return (x + 3) / 4 * 4; }

constexpr uint8_t kPoison = 0xA5;

// One problem's inputs on host and device, and its FP64 reference.
struct Problem {
  int64_t M, N, K, kblocks;
  std::vector<uint8_t> a, b;
  std::vector<float> sfa, sfb;  // sfa MN-major [kblocks, pad(M,4)]
  DeviceBuffer d_a, d_b, d_sfa, d_sfb;
  std::vector<float> ref;  // FP32 image of the FP64 reference (exact for exact inputs)
  std::vector<double> ref64;

  Problem(int64_t m, int64_t n, int64_t k, bool exact, std::mt19937& rng) : M(m), N(n), K(k), kblocks((k + 127) / 128) {
    a = exact ? exact_e4m3(M * K, rng) : random_e4m3(M * K, rng);
    b = exact ? exact_e4m3(N * K, rng) : random_e4m3(N * K, rng);
    sfa = exact ? pow2_scales(kblocks * pad4(M), rng) : random_scales(kblocks * pad4(M), rng);
    sfb = exact ? pow2_scales(((N + 127) / 128) * kblocks, rng) : random_scales(((N + 127) / 128) * kblocks, rng);
    d_a = DeviceBuffer(a.size());
    d_b = DeviceBuffer(b.size());
    d_sfa = DeviceBuffer(sfa.size() * 4);
    d_sfb = DeviceBuffer(sfb.size() * 4);
    d_a.upload(a);
    d_b.upload(b);
    d_sfa.upload(sfa);
    d_sfb.upload(sfb);
    ref64 = reference::gemm_nt(M, N, K, a.data(), K, sfa.data(), pad4(M), b.data(), K, sfb.data());
    ref.resize(ref64.size());
    for (size_t i = 0; i < ref64.size(); ++i) ref[i] = static_cast<float>(ref64[i]);
  }

  GemmNTArgs args(const OutputSpec& out) const {
    GemmNTArgs g;
    g.M = M;
    g.N = N;
    g.K = K;
    g.a = d_a.get();
    g.b = d_b.get();
    g.sfa = d_sfa.as<float>();
    g.sfb = d_sfb.as<float>();
    g.out = out;
    return g;
  }
};

struct Output {
  DeviceBuffer data, scales;
  OutputSpec spec;
  int64_t data_bytes = 0, scale_bytes = 0;

  Output(const FormatCase& f, int64_t M, int64_t N) {
    spec.format = f.format;
    spec.rule = f.rule;
    spec.layout = f.layout;
    data_bytes = M * N * (f.format == OutFormat::kBF16 ? 2 : 1);
    data = DeviceBuffer(data_bytes);
    spec.data = data.get();
    if (f.format != OutFormat::kBF16) {
      const int64_t elems = scale_elements(f.format, f.layout, M, N);
      scale_bytes = elems * (f.format == OutFormat::kMXFP8 ? 1 : 4);
      scales = DeviceBuffer(scale_bytes);
      spec.scales = scales.get();
    }
  }
  void poison() const {
    data.poison(kPoison);
    if (scale_bytes) scales.poison(kPoison);
  }
};

// The reference output bytes (data, scales) of format f for FP32 input x [M, N]; g128 scale padding rows keep the
// poison (they are not part of the output).
void reference_output(const FormatCase& f, const std::vector<float>& x, int64_t M, int64_t N,
                      std::vector<uint8_t>& data, std::vector<uint8_t>& scales) {
  const int64_t data_bytes = M * N * (f.format == OutFormat::kBF16 ? 2 : 1);
  data.assign(data_bytes, kPoison);
  if (f.format == OutFormat::kBF16) {
    reference::to_bf16(x.data(), M, N, N, reinterpret_cast<uint16_t*>(data.data()), N);
    scales.clear();
    return;
  }
  const int64_t elems = scale_elements(f.format, f.layout, M, N);
  scales.assign(elems * (f.format == OutFormat::kMXFP8 ? 1 : 4), kPoison);
  OutputSpec spec;
  spec.format = f.format;
  spec.rule = f.rule;
  spec.layout = f.layout;
  spec.data = data.data();
  spec.scales = scales.data();
  reference::quantize(x.data(), M, N, N, spec);
}

// First mismatching byte, as a readable message, or "" if equal.
std::string first_mismatch(const char* what, const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                           int64_t row_bytes) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i]) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s byte %zu (row %lld, col byte %lld): got 0x%02x want 0x%02x", what, i,
                    static_cast<long long>(row_bytes ? static_cast<int64_t>(i) / row_bytes : 0),
                    static_cast<long long>(row_bytes ? static_cast<int64_t>(i) % row_bytes : i), got[i], want[i]);
      return buf;
    }
  }
  return "";
}

// Runs format f with tile t on problem p and compares every byte with the reference. Returns "" on success.
std::string run_and_compare_exact(const Problem& p, const FormatCase& f, Tile t) {
  Output out(f, p.M, p.N);
  out.poison();
  host::fp8_gemm_nt_with_tile(p.args(out.spec), t, nullptr);
  cuda_check(cudaDeviceSynchronize(), "gemm");
  std::vector<uint8_t> want_data, want_scales;
  reference_output(f, p.ref, p.M, p.N, want_data, want_scales);
  std::vector<uint8_t> got = out.data.download_all();
  if (!out.data.guard_intact(kPoison)) return "write past the end of the output data";
  got.resize(out.data_bytes);
  std::string err = first_mismatch("data", got, want_data, p.N * (f.format == OutFormat::kBF16 ? 2 : 1));
  if (!err.empty()) return err;
  if (out.scale_bytes) {
    std::vector<uint8_t> got_s = out.scales.download_all();
    if (!out.scales.guard_intact(kPoison)) return "write past the end of the scales";
    got_s.resize(out.scale_bytes);
    return first_mismatch("scales", got_s, want_scales, 0);
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------------------
TEST(GemmExact, SmallTileSmoke) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(1);
  Problem p(128, 128, 128, true, rng);
  for (const FormatCase& f : kFormats) {
    for (Tile t : tiles_for(f.format)) {
      SCOPED_TRACE(std::string(f.name) + " tile " + t.name());
      EXPECT_EQ(run_and_compare_exact(p, f, t), "");
    }
  }
}

// Several tiles per CTA for every compiled tile (the shapes below give each CTA at most one): the ring's phases
// carry across tiles, K ends in a partial block after more blocks than there are stages, and both the M and the N
// block counts are odd, so the 2-CTA clusters (along M and along N) end on a surplus tile.
TEST(GemmExact, PersistentTilesPerCtaBitExact) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(5);
  Problem p(2112, 2176, 400, true, rng);  // 256x128: 9 x 17 blocks; 64x64: 33 x 34 blocks; K: 3 blocks + 16
  for (const FormatCase& f : {kFormats[0], kFormats[1], kFormats[2], kFormats[5]}) {
    for (Tile t : tiles_for(f.format)) {
      SCOPED_TRACE(std::string(f.name) + " tile " + t.name());
      EXPECT_EQ(run_and_compare_exact(p, f, t), "");
    }
  }
}

// The wave kernels' partial last row of tiles: warpgroups whose 64 rows all lie past M issue no wgmma (they only walk
// the ring) and that row is dealt after the others. 192x128 with 0, 1 and 2 idle warpgroups in the last row (M mod
// 192 = 129, 65, 1), several tiles per CTA (12 x 17 blocks), the ring wrapping across tiles; M = 60 (one tile, two
// idle warpgroups whose rows still need the blocked layout's zero scale padding up to 128); 256x128 with an idle
// warpgroup (M mod 256 = 1).
TEST(GemmExact, PartialLastRowIdleWarpgroupsBitExact) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(17);
  const int64_t shapes[][4] = {{2177, 2176, 400, 192}, {2113, 2176, 400, 192}, {2241, 1280, 272, 192},
                               {60, 576, 144, 192},    {2305, 1280, 272, 256}};
  for (auto& sh : shapes) {
    Problem p(sh[0], sh[1], sh[2], true, rng);
    for (const FormatCase& f : kFormats) {
      const Tile t{static_cast<int>(sh[3]), 128};
      SCOPED_TRACE(std::string(f.name) + " tile " + t.name() + " M=" + std::to_string(sh[0]));
      EXPECT_EQ(run_and_compare_exact(p, f, t), "");
    }
  }
}

// >= 200 shapes: every output byte and scale byte equals the reference, every format, rule, layout; each shape
// runs the cost model's tile and one forced tile (rotating through the compiled ones).
TEST(GemmExact, ManyShapesAllFormatsBitExact) {
  MXGEMM_REQUIRE_SM90();
  const int64_t Ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 63, 64, 65, 127, 129, 200, 256, 300};
  const int64_t Ns[] = {32, 96, 576, 1280, 2112, 64, 160, 128, 224, 352};
  const int64_t Ks[] = {16, 112, 144, 2064, 128, 256, 48, 384};
  std::mt19937 rng(2024);
  int shapes = 0, runs = 0, failures = 0;
  for (int i = 0; i < 210; ++i) {
    const int64_t M = Ms[i % std::size(Ms)];
    const int64_t N = Ns[(i * 7 + i / std::size(Ms)) % std::size(Ns)];
    int64_t K = Ks[(i * 3 + i / 5) % std::size(Ks)];
    if (M * N * K > 60'000'000) K = 144;  // keep the FP64 reference affordable
    Problem p(M, N, K, true, rng);
    ++shapes;
    for (const FormatCase& f : kFormats) {
      const std::vector<Tile> tiles = tiles_for(f.format);
      for (Tile t : {Tile{0, 0}, tiles[i % tiles.size()]}) {
        ++runs;
        const std::string err = run_and_compare_exact(p, f, t);
        if (!err.empty() && ++failures <= 20)
          ADD_FAILURE() << "M=" << M << " N=" << N << " K=" << K << " " << f.name << " tile " << t.name() << ": "
                        << err;
      }
    }
  }
  EXPECT_EQ(failures, 0) << "of " << runs << " runs over " << shapes << " shapes";
  std::printf("[exact] %d shapes, %d runs, %d failures\n", shapes, runs, failures);
}

// Strided operands and output (lda, ldb > K; ldsfa > pad(M,4); out.ld > N): exact inputs, every logical byte equals
// the reference and every gap byte of the output keeps its poison. The gaps of A, B and SFA hold values that would
// change the result if they were read.
TEST(GemmStrided, AllFormatsBitExactGapsUntouched) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(99);
  const int64_t shapes[][3] = {{65, 320, 400}, {130, 512, 272}};
  for (auto& sh : shapes) {
    const int64_t M = sh[0], N = sh[1], K = sh[2], KB = (K + 127) / 128;
    const int64_t lda = K + 48, ldb = K + 16, ldsfa = pad4(M) + 8, ldo = N + 64;
    std::vector<uint8_t> a(M * lda, rules::e4m3_satfinite(448.0f)), b(N * ldb, rules::e4m3_satfinite(-448.0f));
    const std::vector<uint8_t> a_vals = exact_e4m3(M * K, rng), b_vals = exact_e4m3(N * K, rng);
    for (int64_t r = 0; r < M; ++r) std::copy_n(a_vals.begin() + r * K, K, a.begin() + r * lda);
    for (int64_t r = 0; r < N; ++r) std::copy_n(b_vals.begin() + r * K, K, b.begin() + r * ldb);
    std::vector<float> sfa(KB * ldsfa, 1e30f);
    const std::vector<float> sfa_vals = pow2_scales(KB * M, rng);
    for (int64_t kb = 0; kb < KB; ++kb) std::copy_n(sfa_vals.begin() + kb * M, M, sfa.begin() + kb * ldsfa);
    const std::vector<float> sfb = pow2_scales(((N + 127) / 128) * KB, rng);
    DeviceBuffer d_a(a.size()), d_b(b.size()), d_sfa(sfa.size() * 4), d_sfb(sfb.size() * 4);
    d_a.upload(a);
    d_b.upload(b);
    d_sfa.upload(sfa);
    d_sfb.upload(sfb);
    const std::vector<double> ref64 = reference::gemm_nt(M, N, K, a.data(), lda, sfa.data(), ldsfa, b.data(), ldb,
                                                         sfb.data());
    std::vector<float> ref(ref64.begin(), ref64.end());
    for (const FormatCase& f : kFormats) {
      const int64_t eb = f.format == OutFormat::kBF16 ? 2 : 1;
      DeviceBuffer out(M * ldo * eb), scales;
      OutputSpec spec;
      spec.format = f.format;
      spec.rule = f.rule;
      spec.layout = f.layout;
      spec.data = out.get();
      spec.ld = ldo;
      int64_t scale_bytes = 0;
      if (f.format != OutFormat::kBF16) {
        scale_bytes = scale_elements(f.format, f.layout, M, N) * (f.format == OutFormat::kMXFP8 ? 1 : 4);
        scales = DeviceBuffer(scale_bytes);
        scales.poison(kPoison);
        spec.scales = scales.get();
      }
      out.poison(kPoison);
      GemmNTArgs g;
      g.M = M;
      g.N = N;
      g.K = K;
      g.a = d_a.get();
      g.lda = lda;
      g.b = d_b.get();
      g.ldb = ldb;
      g.sfa = d_sfa.as<float>();
      g.ldsfa = ldsfa;
      g.sfb = d_sfb.as<float>();
      g.out = spec;
      fp8_gemm_nt(g, nullptr);
      cuda_check(cudaDeviceSynchronize(), "gemm");
      // Reference into a poisoned host image of the same strided buffers.
      std::vector<uint8_t> want(M * ldo * eb, kPoison), want_s(scale_bytes, kPoison);
      if (f.format == OutFormat::kBF16) {
        reference::to_bf16(ref.data(), M, N, N, reinterpret_cast<uint16_t*>(want.data()), ldo);
      } else {
        OutputSpec hs = spec;
        hs.data = want.data();
        hs.scales = want_s.data();
        reference::quantize(ref.data(), M, N, N, hs);
      }
      std::vector<uint8_t> got = out.download_all();
      EXPECT_TRUE(out.guard_intact(kPoison)) << f.name;
      got.resize(want.size());
      EXPECT_EQ(first_mismatch("data", got, want, ldo * eb), "") << f.name << " M=" << M << " N=" << N << " K=" << K;
      if (scale_bytes) {
        std::vector<uint8_t> got_s = scales.download_all();
        got_s.resize(scale_bytes);
        EXPECT_EQ(first_mismatch("scales", got_s, want_s, 0), "") << f.name << " M=" << M << " N=" << N;
      }
    }
  }
}

// Random inputs: relative error of the dequantized output vs the FP64 reference within what the format allows.
TEST(GemmRandom, RelativeErrorWithinFormatBound) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(7);
  const int64_t shapes[][3] = {{1, 7168, 2048}, {65, 2112, 1040}, {256, 1280, 7168}, {300, 576, 2064}};
  for (auto& s : shapes) {
    Problem p(s[0], s[1], s[2], false, rng);
    double ref_norm = 0;
    for (double v : p.ref64) ref_norm += v * v;
    ASSERT_GT(ref_norm, 0.0);
    for (const FormatCase& f : kFormats) {
      Output out(f, p.M, p.N);
      out.poison();
      fp8_gemm_nt(p.args(out.spec), nullptr);
      cuda_check(cudaDeviceSynchronize(), "gemm");
      std::vector<uint8_t> data = out.data.download_all(), scales;
      if (out.scale_bytes) scales = out.scales.download_all();
      OutputSpec host_spec = out.spec;
      host_spec.data = data.data();
      host_spec.scales = scales.empty() ? nullptr : scales.data();
      std::vector<float> deq;
      if (f.format == OutFormat::kBF16) {
        deq.resize(p.M * p.N);
        for (int64_t i = 0; i < p.M * p.N; ++i)
          deq[i] = rules::bf16_to_float(reinterpret_cast<const uint16_t*>(data.data())[i]);
      } else {
        deq = reference::dequantize(p.M, p.N, host_spec);
      }
      double err = 0;
      for (int64_t i = 0; i < p.M * p.N; ++i) {
        const double d = double(deq[i]) - p.ref64[i];
        err += d * d;
      }
      const double rel = std::sqrt(err / ref_norm);
      // bf16: 8 significant bits (+ FP32 accumulation); e4m3: 4 significant bits, RMS well under half an ulp
      // (2^-4); FLOOR additionally saturates the top of each group (scaled amax may reach 512 > 448).
      const double bound = f.format == OutFormat::kBF16 ? 5e-3 : (f.rule == ScaleRule::kFLOOR ? 8e-2 : 5e-2);
      EXPECT_LT(rel, bound) << f.name << " M=" << p.M << " N=" << p.N << " K=" << p.K;
      std::printf("[random] M=%lld N=%lld K=%lld %-20s rel err %.3e (bound %.0e)\n", static_cast<long long>(p.M),
                  static_cast<long long>(p.N), static_cast<long long>(p.K), f.name, rel, bound);
    }
  }
}

// Repeat runs are bitwise identical; CUDA-graph replay equals eager.
// Captures what `record` enqueues on `stream` into a CUDA graph, replays it `replays` times and waits for it.
template <class Record>
void capture_and_replay(cudaStream_t stream, Record&& record, int replays) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cuda_check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), "capture");
  record();
  cuda_check(cudaStreamEndCapture(stream, &graph), "end capture");
  cuda_check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int i = 0; i < replays; ++i) cuda_check(cudaGraphLaunch(exec, stream), "replay");
  cuda_check(cudaStreamSynchronize(stream), "sync");
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST(GemmDeterminism, RepeatAndGraphReplayIdentical) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(11);
  Problem p(256, 1280, 2064, false, rng);
  const FormatCase& f = kFormats[1];
  Output first(f, p.M, p.N), second(f, p.M, p.N), graphed(f, p.M, p.N);
  first.poison();
  second.poison();
  graphed.poison();
  fp8_gemm_nt(p.args(first.spec), nullptr);
  fp8_gemm_nt(p.args(second.spec), nullptr);
  cudaStream_t stream;
  cuda_check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  capture_and_replay(stream, [&] { fp8_gemm_nt(p.args(graphed.spec), stream); }, 2);
  cuda_check(cudaDeviceSynchronize(), "sync");
  EXPECT_EQ(first.data.download_all(), second.data.download_all());
  EXPECT_EQ(first.scales.download_all(), second.scales.download_all());
  EXPECT_EQ(first.data.download_all(), graphed.data.download_all());
  EXPECT_EQ(first.scales.download_all(), graphed.scales.download_all());
  cudaStreamDestroy(stream);
}

// Programmatic dependent launch: a chain GEMM1 (g128_fp32 out) -> GEMM2 (A = that output, SFA = its scales, as a
// quantized activation feeds the next layer), launched back to back with pdl = true, eagerly and inside a CUDA graph.
// The iterations alternate between two GEMM1 inputs, so a GEMM2 that read its A before GEMM1 had finished (or a GEMM1
// that overwrote it while the previous GEMM2 still read it) would produce the other iteration's bytes: every output
// must equal the serial (pdl = false, synchronised) run of its parity.
TEST(GemmPdl, ChainedGemmsMatchSerialRun) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(21);
  const int64_t M = 192, K1 = 640, N1 = 1024, N2 = 768;  // N1 is GEMM2's K
  const Problem first[2] = {Problem(M, N1, K1, false, rng), Problem(M, N1, K1, false, rng)};
  const Problem second(M, N2, N1, false, rng);  // its B and SFB only
  const FormatCase& mid_format = kFormats[5];    // g128_fp32: e4m3 + MN-major FP32 scales = the next GEMM's SFA
  const FormatCase& out_format = kFormats[1];    // mxfp8 rceil compact
  Output mid(mid_format, M, N1);
  // Both GEMMs with the cost model's tile, then with forced tiles of each producer structure: a split-K cluster
  // (its rank 0 reduces after the others), 2-CTA clusters sharing A and B, the stage-aligned 256x128.
  const std::pair<Tile, Tile> tile_pairs[] = {{Tile{0, 0}, Tile{0, 0}},
                                              {Tile{128, 128, 1, 1, 2}, Tile{64, 64, 1, 1, 4}},
                                              {Tile{256, 128, 1, 2}, Tile{128, 128, 2, 1}},
                                              {Tile{256, 128}, Tile{128, 64, 1, 1, 2}}};
  for (const auto& [tile1, tile2] : tile_pairs) {
    SCOPED_TRACE("GEMM1 tile " + tile1.name() + ", GEMM2 tile " + tile2.name());
    auto chain = [&](int parity, const Output& dst, bool pdl, cudaStream_t stream) {
      GemmNTArgs g1 = first[parity].args(mid.spec);
      g1.pdl = pdl;
      host::fp8_gemm_nt_with_tile(g1, tile1, stream);
      GemmNTArgs g2 = second.args(dst.spec);
      g2.a = mid.data.get();
      g2.sfa = mid.scales.as<float>();
      g2.pdl = pdl;
      host::fp8_gemm_nt_with_tile(g2, tile2, stream);
    };
    std::vector<std::vector<uint8_t>> want_data(2), want_scales(2);
    for (int parity = 0; parity < 2; ++parity) {
      Output serial(out_format, M, N2);
      serial.poison();
      chain(parity, serial, false, nullptr);
      cuda_check(cudaDeviceSynchronize(), "sync");
      want_data[parity] = serial.data.download_all();
      want_scales[parity] = serial.scales.download_all();
    }
    ASSERT_NE(want_data[0], want_data[1]) << "the two parities must differ for the test to see a race";

    cudaStream_t stream;
    cuda_check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
    constexpr int kIters = 8;
    std::vector<Output> eager, graphed;
    for (int i = 0; i < kIters; ++i) {
      eager.emplace_back(out_format, M, N2);
      graphed.emplace_back(out_format, M, N2);
      eager.back().poison();
      graphed.back().poison();
    }
    for (int i = 0; i < kIters; ++i) chain(i % 2, eager[i], true, stream);
    cuda_check(cudaStreamSynchronize(stream), "sync eager");
    capture_and_replay(stream, [&] {
      for (int i = 0; i < kIters; ++i) chain(i % 2, graphed[i], true, stream);
    }, 1);
    for (int i = 0; i < kIters; ++i) {
      EXPECT_EQ(eager[i].data.download_all(), want_data[i % 2]) << "eager iteration " << i;
      EXPECT_EQ(eager[i].scales.download_all(), want_scales[i % 2]) << "eager iteration " << i;
      EXPECT_EQ(graphed[i].data.download_all(), want_data[i % 2]) << "graph iteration " << i;
      EXPECT_EQ(graphed[i].scales.download_all(), want_scales[i % 2]) << "graph iteration " << i;
    }
    cudaStreamDestroy(stream);
  }
}

// Fused epilogue == standalone quantizer on the same FP32 data: with exact inputs and a small K the bf16 output is
// exact, so quantize(bf16 GEMM output) must equal the fused quantized output byte for byte.
TEST(GemmFusedVsStandalone, SameBytes) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(5);
  Problem p(200, 1280, 48, true, rng);  // |sum| <= 4*48*2^6: exact in bf16 (8 significant bits)? checked below
  for (float v : p.ref) ASSERT_EQ(rules::bf16_to_float(rules::bf16_rn(v)), v) << "bf16 not exact: pick smaller K";
  Output bf16(kFormats[0], p.M, p.N);
  fp8_gemm_nt(p.args(bf16.spec), nullptr);
  for (size_t fi = 1; fi < std::size(kFormats); ++fi) {
    const FormatCase& f = kFormats[fi];
    Output fused(f, p.M, p.N), standalone(f, p.M, p.N);
    fused.poison();
    standalone.poison();
    fp8_gemm_nt(p.args(fused.spec), nullptr);
    QuantizeArgs q;
    q.M = p.M;
    q.N = p.N;
    q.x = bf16.data.get();
    q.type = InputType::kBF16;
    q.out = standalone.spec;
    try {
      quantize(q, nullptr);
    } catch (const Error& e) {
      ADD_FAILURE() << f.name << ": standalone quantizer threw: " << e.what();
      continue;
    }
    cuda_check(cudaDeviceSynchronize(), "sync");
    EXPECT_EQ(fused.data.download_all(), standalone.data.download_all()) << f.name;
    if (fused.scale_bytes) EXPECT_EQ(fused.scales.download_all(), standalone.scales.download_all()) << f.name;
  }
}

// Bad inputs are rejected before anything is launched: the poisoned output stays untouched.
TEST(GemmBadInput, RejectedNothingWritten) {
  MXGEMM_REQUIRE_SM90();
  std::mt19937 rng(3);
  Problem p(64, 128, 128, true, rng);
  Output out(kFormats[1], p.M, p.N);
  out.poison();
  auto expect_rejected = [&](GemmNTArgs g, const char* needle) {
    try {
      fp8_gemm_nt(g, nullptr);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  GemmNTArgs g = p.args(out.spec);
  g.K = 100;
  expect_rejected(g, "K=100");
  g = p.args(out.spec);
  g.N = 120;  // mxfp8 needs N % 32 == 0
  expect_rejected(g, "N=120");
  g = p.args(out.spec);
  g.out.scales = nullptr;
  expect_rejected(g, "scales");
  g = p.args(out.spec);
  g.a = static_cast<const uint8_t*>(g.a) + 1;
  expect_rejected(g, "a=");
  // Tile configs that are not compiled in (split-K on the two-wave 256x128 tile, a 2-CTA cluster of 64x64 tiles,
  // g128's 128-column group in a 64-wide tile): kNotImplemented, naming the tile, nothing launched.
  const Tile uncompiled[] = {{256, 128, 1, 1, 2}, {64, 64, 2, 1}, {128, 64, 1, 1, 8}};
  for (const Tile& t : uncompiled) {
    try {
      host::fp8_gemm_nt_with_tile(p.args(out.spec), t, nullptr);
      ADD_FAILURE() << "accepted tile " << t.name();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotImplemented) << e.what();
      EXPECT_NE(std::string(e.what()).find(t.name()), std::string::npos) << e.what();
    }
  }
  Output out_g128(kFormats[5], p.M, p.N);
  out_g128.poison();
  try {
    host::fp8_gemm_nt_with_tile(p.args(out_g128.spec), Tile{64, 64}, nullptr);
    ADD_FAILURE() << "accepted g128 with a 64-wide tile";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented) << e.what();
  }
  cuda_check(cudaDeviceSynchronize(), "sync");
  const std::vector<uint8_t> g128_bytes = out_g128.data.download_all();
  EXPECT_TRUE(std::all_of(g128_bytes.begin(), g128_bytes.end(), [](uint8_t b) { return b == kPoison; }));
  const std::vector<uint8_t> bytes = out.data.download_all();
  EXPECT_TRUE(std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == kPoison; }));
}

}  // namespace
}  // namespace mxgemm::testing
