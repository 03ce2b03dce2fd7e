// mxgemm-bench quantize mode (see bench_quantize.h).
//
// Per row: mxgemm_us = time_us (L2 flushed, CUDA events around one call, median); peers["d2d_copy"] = time_us of a
// cudaMemcpyAsync D2D moving the same bytes (read + write) in the same run; extra: gbps (bytes read + written /
// time), pct_of_copy (copy time / quantize time, both timed by time_us: the same method), graph_us_per_call (one graph
// of R launches (32 small, 4 large) over R distinct cold buffer sets after one flush, divided by R: kernel time
// without the per-call event overhead, the closest to PEERS.md's profiler kernel times) with copy_graph_us_per_call
// (the copy timed the same way: a graph of R copies of the same bytes from those R cold inputs) and
// pct_of_copy_graph = copy_graph_us_per_call / graph_us_per_call, peersmd_triton_us (PEERS.md's Triton "quant" number, a constant
// from that page, NOT measured here), speedup = peersmd_triton_us / mxgemm_us.
// Same-run peer: with MXGEMM_PEERS_JSON=<peers.json of ../shared/peers/peers.py run in the same device call>, each
// rowwise bf16 -> mxfp8 row whose M x N peers.py quantized gets peers["triton_quant"] = its quant_triton_us (the
// best Triton block shape, PyTorch-profiler kernel time, L2 flushed; peers.py quantizes max(M, 16) rows) and
// extra["speedup_graph_vs_triton"] = that / graph_us_per_call.
#include "bench_quantize.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "kernels/quantize_launch.h"
#include "mxgemm/format_rules.h"
#include "mxgemm/mxgemm.h"
#include "mxgemm/reference.h"

namespace mxgemm::bench {
namespace {

// Deterministic pseudo-normal data (sum of 4 uniforms, centred) with a per-row magnitude 2^(r % 9 - 4): never zeros.
__global__ void fill_random_kernel(void* x, int64_t n, bool fp32, uint64_t seed) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint64_t z = seed + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float u = (static_cast<float>(z & 0xffff) + static_cast<float>((z >> 16) & 0xffff) +
                     static_cast<float>((z >> 32) & 0xffff) + static_cast<float>((z >> 48) & 0xffff)) *
                        (1.0f / 65536.0f) -
                    2.0f;
    const float v = u * 1.7320508f * exp2f(static_cast<float>(static_cast<int>((i >> 12) % 9) - 4));
    if (fp32) static_cast<float*>(x)[i] = v;
    else static_cast<uint16_t*>(x)[i] = rules::bf16_rn(v);
  }
}

struct Spec {
  const char* op;  // "quantize" or "quantize_colwise" or "quantize_tune"
  int64_t M, N;
  InputType type;
  OutFormat format;
  ScaleRule rule;
  ScaleLayout layout;
  double triton_us;  // PEERS.md quant column (bf16 -> mxfp8 rowwise only), NaN otherwise
  kernels::quant::Tuning tuning;
  bool tuned;
};

std::string format_name(const Spec& s) {
  std::string f = s.format == OutFormat::kMXFP8 ? "mxfp8" : to_string(s.format);
  if (s.format == OutFormat::kMXFP8 && s.layout == ScaleLayout::kBlocked128x4) f += "_blocked";
  if (s.format == OutFormat::kMXFP8 && s.rule == ScaleRule::kFLOOR) f += "_floor";
  if (s.type == InputType::kFP32) f = "fp32>" + f;
  return f;
}

struct Buffers {
  DeviceBuffer x, q, s;
};

QuantizeArgs make_args(const Spec& sp, const Buffers& b) {
  QuantizeArgs a;
  a.M = sp.M;
  a.N = sp.N;
  a.x = b.x.get();
  a.type = sp.type;
  a.columnwise = std::string(sp.op) == "quantize_colwise";
  a.out.format = sp.format;
  a.out.rule = sp.rule;
  a.out.layout = sp.layout;
  a.out.data = b.q.get();
  a.out.scales = b.s.get();
  return a;
}

Buffers alloc(const Spec& sp, bool colw, uint64_t seed, cudaStream_t stream) {
  const int64_t esize = sp.type == InputType::kBF16 ? 2 : 4;
  const int64_t rows = colw ? sp.N : sp.M, cols = colw ? sp.M : sp.N;
  const int64_t sbytes = scale_elements(sp.format, sp.layout, rows, cols) * (sp.format == OutFormat::kMXFP8 ? 1 : 4);
  Buffers b{DeviceBuffer(static_cast<size_t>(sp.M * sp.N * esize)), DeviceBuffer(static_cast<size_t>(rows * cols)),
            DeviceBuffer(static_cast<size_t>(sbytes))};
  fill_random_kernel<<<1024, 256, 0, stream>>>(b.x.get(), sp.M * sp.N, sp.type == InputType::kFP32, seed);
  check_cuda(cudaGetLastError(), "fill_random_kernel");
  return b;
}

// Sampled output rows against the CPU reference (1-row reference per sampled row; scales read through the layout).
bool verify(const Spec& sp, const Buffers& b, std::string* why) {
  const bool colw = std::string(sp.op) == "quantize_colwise";
  const int64_t rows = colw ? sp.N : sp.M, cols = colw ? sp.M : sp.N;
  const int64_t esize = sp.type == InputType::kBF16 ? 2 : 4;
  std::vector<uint8_t> x(static_cast<size_t>(sp.M * sp.N * esize)), q(static_cast<size_t>(rows * cols)),
      s(b.s.bytes());
  b.x.download(x.data(), x.size());
  b.q.download(q.data(), q.size());
  b.s.download(s.data(), s.size());
  auto xval = [&](int64_t m, int64_t n) -> float {
    const size_t i = static_cast<size_t>(m * sp.N + n);
    if (sp.type == InputType::kFP32) {
      float f;
      std::memcpy(&f, &x[i * 4], 4);
      return f;
    }
    uint16_t h;
    std::memcpy(&h, &x[i * 2], 2);
    return rules::bf16_to_float(h);
  };
  const int group = group_size(sp.format);
  const int64_t gcols = (cols + group - 1) / group;
  std::vector<int64_t> sample = {0, rows - 1};
  for (int i = 1; i < 15; ++i) sample.push_back(rows * i / 15);
  std::vector<float> row(static_cast<size_t>(cols));
  std::vector<uint8_t> rq(static_cast<size_t>(cols));
  std::vector<uint8_t> rs(static_cast<size_t>(gcols * 16 + 64));
  for (int64_t r : sample) {
    for (int64_t c = 0; c < cols; ++c) row[c] = colw ? xval(c, r) : xval(r, c);
    OutputSpec o;
    o.format = sp.format;
    o.rule = sp.rule;
    o.layout = ScaleLayout::kCompact;
    o.data = rq.data();
    o.scales = rs.data();
    reference::quantize(row.data(), 1, cols, cols, o);
    if (std::memcmp(rq.data(), &q[static_cast<size_t>(r * cols)], static_cast<size_t>(cols)) != 0) {
      *why = "data of output row " + std::to_string(r);
      return false;
    }
    for (int64_t g = 0; g < gcols; ++g) {
      bool same;
      if (sp.format == OutFormat::kMXFP8) {
        const int64_t off = sp.layout == ScaleLayout::kBlocked128x4 ? rules::blocked128x4_offset(r, g, gcols)
                                                                     : r * gcols + g;
        same = s[static_cast<size_t>(off)] == rs[static_cast<size_t>(g)];
      } else {
        same = std::memcmp(&s[static_cast<size_t>((g * mn_major_ld(rows) + r) * 4)], &rs[static_cast<size_t>(g * 16)],
                           4) == 0;
      }
      if (!same) {
        *why = "scale (" + std::to_string(r) + ", " + std::to_string(g) + ")";
        return false;
      }
    }
  }
  return true;
}

// quant_triton_us of peers.py's JSON by (M, N): each "quant_triton_us" value with the nearest "M" and "N" keys
// before it (peers.py writes M, N first in every shape's object; nested objects hold kernel names only).
std::map<std::pair<int64_t, int64_t>, double> load_peers_triton(const char* path) {
  std::map<std::pair<int64_t, int64_t>, double> out;
  if (path == nullptr || *path == 0) return out;
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "[quantize] MXGEMM_PEERS_JSON=%s: cannot open\n", path);
    return out;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string t = ss.str();
  const std::string key = "\"quant_triton_us\":";
  for (size_t pos = t.find(key); pos != std::string::npos; pos = t.find(key, pos + 1)) {
    const size_t pm = t.rfind("\"M\":", pos), pn = t.rfind("\"N\":", pos);
    if (pm == std::string::npos || pn == std::string::npos) continue;
    const int64_t M = std::strtoll(t.c_str() + pm + 4, nullptr, 10);
    const int64_t N = std::strtoll(t.c_str() + pn + 4, nullptr, 10);
    out[{M, N}] = std::strtod(t.c_str() + pos + key.size(), nullptr);
  }
  std::fprintf(stderr, "[quantize] %zu Triton quantizer times from %s\n", out.size(), path);
  return out;
}

}  // namespace

std::vector<BenchRow> bench_quantize(const BenchContext& ctx) {
  const double nan = kNotRun;
  using IT = InputType;
  using OF = OutFormat;
  const ScaleRule RC = ScaleRule::kRCEIL, FL = ScaleRule::kFLOOR;
  const ScaleLayout CO = ScaleLayout::kCompact, BL = ScaleLayout::kBlocked128x4;
  const kernels::quant::Tuning def{};
  std::vector<Spec> specs;
  // PEERS.md quant column: bf16 -> mxfp8 (RCEIL, compact e8m0), rowwise, at the GEMM output shapes.
  const struct { int64_t M, N; double us; } peers_md[] = {
      {1, 7168, 2.4},      {128, 7168, 3.3},     {256, 7168, 4.3},     {128, 4096, 2.9},    {256, 4096, 3.4},
      {4096, 7168, 34.6},  {4096, 4096, 19.5},   {8192, 7168, 62.4},   {30720, 7168, 248},  {37888, 7168, 308},
      {35840, 4096, 162},  {32768, 4096, 149},   {61440, 1280, 86}};
  for (const auto& p : peers_md) specs.push_back({"quantize", p.M, p.N, IT::kBF16, OF::kMXFP8, RC, CO, p.us, def, false});
  // Shapes peers.py quantizes that PEERS.md's table does not list (same-run Triton peer only).
  for (auto [M, N] : {std::pair<int64_t, int64_t>{16384, 7168}, {64512, 1280}}) {
    specs.push_back({"quantize", M, N, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
  }
  // The blocked128x4 scale layout at the smallest shape (its padding rows dominate at M = 1).
  specs.push_back({"quantize", 1, 7168, IT::kBF16, OF::kMXFP8, RC, BL, nan, def, false});
  // Other formats, FP32 input, columnwise, at >= 32M elements (8192 x 7168 = 58.7M) and 4096 x 7168.
  for (int64_t M : {4096, 8192}) {
    specs.push_back({"quantize", M, 7168, IT::kFP32, OF::kMXFP8, RC, CO, nan, def, false});
    specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
    specs.push_back({"quantize_colwise", M, 7168, IT::kFP32, OF::kMXFP8, RC, CO, nan, def, false});
  }
  specs.push_back({"quantize", 8192, 7168, IT::kBF16, OF::kMXFP8, RC, BL, nan, def, false});
  specs.push_back({"quantize", 8192, 7168, IT::kBF16, OF::kMXFP8, FL, CO, nan, def, false});
  specs.push_back({"quantize", 8192, 7168, IT::kBF16, OF::kG128FP32, RC, CO, nan, def, false});
  specs.push_back({"quantize", 8192, 7168, IT::kBF16, OF::kG128UE8M0, RC, CO, nan, def, false});
  specs.push_back({"quantize_colwise", 8192, 7168, IT::kBF16, OF::kMXFP8, RC, BL, nan, def, false});
  specs.push_back({"quantize_colwise", 8192, 7168, IT::kBF16, OF::kG128FP32, RC, CO, nan, def, false});
  // Launch-shape variants (op "quantize_tune"; note says which) at a large, a mid and a small shape.
  for (auto [M, N] : {std::pair<int64_t, int64_t>{8192, 7168}, {4096, 4096}, {128, 7168}}) {
    for (kernels::quant::Tuning t : {kernels::quant::Tuning{1, 1}, {2, 1}, {1, 0}, {4, 0}}) {
      specs.push_back({"quantize_tune", M, N, IT::kBF16, OF::kMXFP8, RC, CO, nan, t, true});
    }
    // Columnwise kernels: register-staged (stages -1) and the cp.async ring at depths 2, 3, 4 (persistent, 1 wave);
    // raster 1 = m-tiles fastest (the first order), 0 = default groups of 1 KB of input row.
    for (kernels::quant::Tuning t : {kernels::quant::Tuning{2, 1, -1, 1}, {2, 1, -1, 0}, {2, 1, 3, 1}, {2, 1, 2, 0},
                                     {2, 1, 3, 0}, {2, 1, 4, 0}}) {
      Spec s{"quantize_colwise", M, N, IT::kBF16, OF::kMXFP8, RC, CO, nan, t, true};
      specs.push_back(s);
    }
  }

  // MXGEMM_QUANT_COLWISE_ONLY=1: only the columnwise rows at 4096 x 7168 and 8192 x 7168 (every BF16 format, the
  // FP32 mxfp8 row; bf16 mxfp8 RCEIL and FLOOR also at 16384 x 7168, which separates per-call overhead from bandwidth) and the
  // columnwise BF16 kernel variants there (short device calls).
  if (const char* e = std::getenv("MXGEMM_QUANT_COLWISE_ONLY"); e && e[0] == '1') {
    specs.clear();
    for (int64_t M : {4096, 8192}) {
      specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
      specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kMXFP8, RC, BL, nan, def, false});
      specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kMXFP8, FL, CO, nan, def, false});
      specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kMXFP8, FL, BL, nan, def, false});
      specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kG128FP32, RC, CO, nan, def, false});
      specs.push_back({"quantize_colwise", M, 7168, IT::kBF16, OF::kG128UE8M0, RC, CO, nan, def, false});
      specs.push_back({"quantize_colwise", M, 7168, IT::kFP32, OF::kMXFP8, RC, CO, nan, def, false});
    }
    specs.push_back({"quantize_colwise", 16384, 7168, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
    specs.push_back({"quantize_colwise", 16384, 7168, IT::kBF16, OF::kMXFP8, FL, CO, nan, def, false});
    // Fixed per-call cost: one tile (and one wave of tiles), where the bytes take no time.
    specs.push_back({"quantize_colwise", 128, 64, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
    specs.push_back({"quantize_colwise", 4096, 2048, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
    // Kernel variants of the default kernel (3: TMA loads + TMA stores, 128x64, one tile per block), {unroll, waves,
    // stages, raster, tile, kernel, l2promo, evict, scale_hint, load_hint}: scale_hint 1 = scale stores without the
    // L2 evict-last policy (the default has it); load_hint 1 + evict 1 = input loads and e4m3 stores evict-first;
    // raster 1 = m-tiles fastest. Compact mxfp8 alternated twice, the other scale layouts once.
    using Tu = kernels::quant::Tuning;
    const Tu hint{2, 0, 1, 0, 1, 3, 0, 0, 0, 0}, no_hint{2, 0, 1, 0, 1, 3, 0, 0, 1, 0},
        stream_first{2, 0, 1, 0, 1, 3, 0, 1, 0, 1}, m_fastest{2, 0, 1, 1, 1, 3, 0, 0, 0, 0};
    for (int rep = 0; rep < 2; ++rep) {
      for (ScaleRule r : {RC, FL}) {
        for (const Tu& t : {hint, no_hint, stream_first, m_fastest}) {
          specs.push_back({"quantize_colwise", 8192, 7168, IT::kBF16, OF::kMXFP8, r, CO, nan, t, true});
        }
      }
    }
    for (auto [f, l] : {std::pair{OF::kMXFP8, BL}, {OF::kG128FP32, CO}}) {
      for (const Tu& t : {hint, no_hint}) specs.push_back({"quantize_colwise", 8192, 7168, IT::kBF16, f, RC, l, nan, t, true});
    }
    for (const Tu& t : {hint, no_hint, hint, no_hint}) {
      specs.push_back({"quantize_colwise", 4096, 7168, IT::kBF16, OF::kMXFP8, RC, CO, nan, t, true});
    }
  }
  // MXGEMM_QUANT_COLWISE_ONLY=2 (for a profiler): the default columnwise BF16 mxfp8 row at 8192 x 7168, then the same
  // with scale stores without the L2 evict-last policy.
  if (const char* e = std::getenv("MXGEMM_QUANT_COLWISE_ONLY"); e && e[0] == '2') {
    specs.clear();
    specs.push_back({"quantize_colwise", 8192, 7168, IT::kBF16, OF::kMXFP8, RC, CO, nan, def, false});
    kernels::quant::Tuning no_hint;
    no_hint.scale_hint = 1;
    specs.push_back({"quantize_colwise", 8192, 7168, IT::kBF16, OF::kMXFP8, RC, CO, nan, no_hint, true});
  }

  const auto triton = load_peers_triton(std::getenv("MXGEMM_PEERS_JSON"));

  std::vector<BenchRow> rows;
  uint64_t seed = 12345;
  for (const Spec& sp : specs) {
    const bool colw = std::string(sp.op) == "quantize_colwise";
    BenchRow row;
    row.op = sp.op;
    row.M = sp.M;
    row.N = sp.N;
    row.format = format_name(sp);
    try {
      Buffers b = alloc(sp, colw, seed++, ctx.stream);
      QuantizeArgs a = make_args(sp, b);
      auto call = [&] {
        if (sp.tuned) detail::quantize_tuned(a, sp.tuning, ctx.stream);
        else quantize(a, ctx.stream);
      };
      if (sp.tuned) {
        row.note = "unroll=" + std::to_string(sp.tuning.unroll) + " waves=" + std::to_string(sp.tuning.waves) +
                   " stages=" + std::to_string(sp.tuning.stages) + " raster=" + std::to_string(sp.tuning.raster) +
                   " tile=" + std::to_string(sp.tuning.tile) + " kernel=" + std::to_string(sp.tuning.kernel) +
                   " l2promo=" + std::to_string(sp.tuning.l2promo) + " evict=" + std::to_string(sp.tuning.evict) +
                   " scale_hint=" + std::to_string(sp.tuning.scale_hint) + " load_hint=" + std::to_string(sp.tuning.load_hint);
        row.extra["unroll"] = sp.tuning.unroll;
        row.extra["waves"] = sp.tuning.waves;
        row.extra["stages"] = sp.tuning.stages;
        row.extra["raster"] = sp.tuning.raster;
        row.extra["tile"] = sp.tuning.tile;
        row.extra["kernel"] = sp.tuning.kernel;
        row.extra["l2promo"] = sp.tuning.l2promo;
        row.extra["evict"] = sp.tuning.evict;
        row.extra["scale_hint"] = sp.tuning.scale_hint;
        row.extra["load_hint"] = sp.tuning.load_hint;
      }
      // Correctness of this very configuration first (poisoned outputs).
      check_cuda(cudaMemsetAsync(b.q.get(), 0xAB, b.q.bytes(), ctx.stream), "poison");
      check_cuda(cudaMemsetAsync(b.s.get(), 0xAB, b.s.bytes(), ctx.stream), "poison");
      call();
      check_cuda(cudaStreamSynchronize(ctx.stream), "quantize");
      if (ctx.verify) {
        std::string why;
        row.verified = verify(sp, b, &why);
        if (!row.verified) row.note += (row.note.empty() ? "" : " ") + std::string("VERIFY FAILED: ") + why;
      }
      row.mxgemm_us = time_us(ctx, call);

      const double bytes = static_cast<double>(b.x.bytes() + b.q.bytes() + b.s.bytes());  // read + written
      DeviceBuffer scratch(static_cast<size_t>(bytes / 2) + 16);
      const size_t half = static_cast<size_t>(bytes / 2);
      const double copy_us = time_us(ctx, [&] {
        check_cuda(cudaMemcpyAsync(scratch.get(), b.x.get(), std::min(half, b.x.bytes()), cudaMemcpyDeviceToDevice,
                                   ctx.stream),
                   "copy");
      });
      row.peers["d2d_copy"] = copy_us;
      row.extra["bytes"] = bytes;
      row.extra["gbps"] = bytes / (row.mxgemm_us * 1e3);
      row.extra["copy_gbps"] = 2.0 * static_cast<double>(std::min(half, b.x.bytes())) / (copy_us * 1e3);
      row.extra["pct_of_copy"] = 100.0 * row.extra["gbps"] / row.extra["copy_gbps"];
      row.extra["floor_us"] = bytes / 3.0e6;  // PEERS.md measured copy bandwidth 3.00 TB/s
      if (std::isfinite(sp.triton_us)) {
        row.extra["peersmd_triton_us"] = sp.triton_us;
        row.extra["speedup"] = sp.triton_us / row.mxgemm_us;
      }
      // Kernel time without the per-call event overhead: a graph of R launches on R cold buffer sets. R keeps the
      // sets near 1.6 GB (4..32): the graph launch's own latency, divided by R, then stays well under 1% (R = 4
      // at 51 MB added ~0.5 us a call).
      if (!sp.tuned) {
        const int R = static_cast<int>(std::clamp(1.6e9 / bytes, 4.0, 32.0));
        std::vector<Buffers> sets;
        std::vector<QuantizeArgs> args;
        for (int i = 0; i < R; ++i) sets.push_back(alloc(sp, colw, seed++, ctx.stream));
        for (int i = 0; i < R; ++i) args.push_back(make_args(sp, sets[i]));
        cudaGraph_t graph;
        cudaGraphExec_t exec;
        check_cuda(cudaStreamSynchronize(ctx.stream), "sync");
        check_cuda(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal), "capture");
        for (int i = 0; i < R; ++i) quantize(args[i], ctx.stream);
        check_cuda(cudaStreamEndCapture(ctx.stream, &graph), "end capture");
        check_cuda(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
        const double g_us = time_us(ctx, [&] { check_cuda(cudaGraphLaunch(exec, ctx.stream), "graph launch"); });
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        row.extra["graph_us_per_call"] = g_us / R;
        row.extra["graph_calls"] = R;
        // The copy timed the same way: a graph of R device-to-device copies of the same bytes (read + written), each
        // from one of the R cold input sets to its own destination.
        {
          const size_t cbytes = std::min(half, b.x.bytes());
          std::vector<DeviceBuffer> dsts;
          for (int i = 0; i < R; ++i) dsts.emplace_back(cbytes);
          cudaGraph_t cgraph;
          cudaGraphExec_t cexec;
          check_cuda(cudaStreamSynchronize(ctx.stream), "sync");
          check_cuda(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal), "capture");
          for (int i = 0; i < R; ++i) {
            check_cuda(cudaMemcpyAsync(dsts[i].get(), sets[i].x.get(), cbytes, cudaMemcpyDeviceToDevice, ctx.stream),
                       "copy");
          }
          check_cuda(cudaStreamEndCapture(ctx.stream, &cgraph), "end capture");
          check_cuda(cudaGraphInstantiate(&cexec, cgraph, 0), "instantiate");
          const double cg_us = time_us(ctx, [&] { check_cuda(cudaGraphLaunch(cexec, ctx.stream), "graph launch"); });
          cudaGraphExecDestroy(cexec);
          cudaGraphDestroy(cgraph);
          row.extra["copy_graph_us_per_call"] = cg_us / R;
          row.extra["pct_of_copy_graph"] = 100.0 * (cg_us / R) / (g_us / R);
        }
        if (std::isfinite(sp.triton_us)) row.extra["speedup_graph_vs_peersmd_triton"] = sp.triton_us / (g_us / R);
        const auto it = triton.find({sp.M, sp.N});
        if (std::string(sp.op) == "quantize" && sp.type == IT::kBF16 && sp.format == OF::kMXFP8 && sp.rule == RC &&
            sp.layout == CO && it != triton.end()) {
          row.peers["triton_quant"] = it->second;
          row.extra["speedup_graph_vs_triton"] = it->second / (g_us / R);
        }
      }
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s%.1f%% of copy", row.note.empty() ? "" : " ", row.extra["pct_of_copy"]);
      row.note += buf;
      if (row.extra.count("graph_us_per_call")) {
        std::snprintf(buf, sizeof buf, ", graph %.2f us/call (copy %.2f: %.1f%% of copy)", row.extra["graph_us_per_call"],
                      row.extra["copy_graph_us_per_call"], row.extra["pct_of_copy_graph"]);
        row.note += buf;
      }
      if (std::isfinite(sp.triton_us)) {
        std::snprintf(buf, sizeof buf, ", PEERS.md triton %.1f us", sp.triton_us);
        row.note += buf;
      }
      if (row.peers.count("triton_quant")) {
        std::snprintf(buf, sizeof buf, ", same-run triton %.2f us (graph %.3fx faster)", row.peers["triton_quant"],
                      row.extra["speedup_graph_vs_triton"]);
        row.note += buf;
      }
    } catch (const std::exception& e) {
      row.note += std::string(" error: ") + e.what();
      (void)cudaGetLastError();
    }
    rows.push_back(row);
    std::fprintf(stderr, "[quantize] %s %ldx%ld %s: %.2f us (%s)\n", row.op.c_str(), row.M, row.N, row.format.c_str(),
                 row.mxgemm_us, row.note.c_str());
  }
  return rows;
}

}  // namespace mxgemm::bench
