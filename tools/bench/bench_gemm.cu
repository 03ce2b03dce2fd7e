// mxgemm-bench "gemm" mode (see bench_gemm.h).
//
// Verification (per shape and format, unless --no-verify): the output buffers are poisoned with 0xFF (bf16 / e4m3
// NaN, e8m0 NaN) before a checked call; 8 rows spread over M (first and last included) are downloaded with all N
// columns and the whole scale buffer, dequantized with the FORMAT.md rules, and compared with the FP64 reference
// (reference::gemm_nt on those rows) as err = ||out - ref||_2 / ||ref||_2.
// The bound is relative to what the format itself costs: the CPU reference quantizer (reference::quantize /
// to_bf16) applied to the FP64 result rounded to FP32 gives ref_quant_err, the error of a perfect kernel (measured
// on the H100, 2026-11-25: 1.65e-3 for bf16, 2.56e-2 g128_fp32, 2.6e-2 mxfp8 RCEIL, 3.0e-2 FLOOR; mxgemm's own
// errors matched these to 3 digits, with 0.5% (e4m3) / 3% (bf16) of bytes off by the FP32 accumulation order). A
// kernel passes when
//   err <= 1.10 * ref_quant_err + 1e-3   and   err <= 1.5e-2 (bf16) / 7e-2 (e4m3 outputs).
// The FP32 accumulation of the GPU moves a few elements across rounding boundaries, which changes err by far less
// than 10%; a wrong scale, a truncating conversion (twice the RMS error) or an unwritten element (NaN) fails.
// byte_mismatch_frac (data bytes that differ from the reference quantizer's) is reported, not judged.
#include "bench_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>

#include "bench_util.h"
#include "cublaslt_peer.h"
#include "mxgemm/format_rules.h"
#include "mxgemm/reference.h"

namespace mxgemm::bench {
namespace {

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t pad4(int64_t x) { return (x + 3) / 4 * 4; }

constexpr double kSpecFlops = 1979e12;  // H100 SXM dense FP8 (PEERS.md floor)
constexpr double kCopyBps = 3.0e12;     // measured device-to-device copy (PEERS.md)

size_t elem_bytes(const OutFormatChoice& f) { return f.format == OutFormat::kBF16 ? 2 : 1; }
// Scale buffer of an output [rows, cols] (padding included), in bytes; 0 for bf16. Mirrors scale_elements() of
// the API (FORMAT.md §2) so that the bench does not depend on it for sizing.
size_t scale_buffer_bytes(const OutFormatChoice& f, int64_t rows, int64_t cols) {
  switch (f.format) {
    case OutFormat::kBF16: return 0;
    case OutFormat::kMXFP8:
      if (f.layout == ScaleLayout::kBlocked128x4)
        return static_cast<size_t>((rows + 127) / 128 * 128 * pad4(cdiv(cols, 32)));
      return static_cast<size_t>(rows * cdiv(cols, 32));
    case OutFormat::kG128FP32:
    case OutFormat::kG128UE8M0: return static_cast<size_t>(cdiv(cols, 128) * pad4(rows)) * 4;
  }
  return 0;
}

// Dequantized value of element (r, n) of an output [rows, cols] in format f (data row pointer given).
float dequant(const OutFormatChoice& f, const uint8_t* data_row, const uint8_t* scales, int64_t r, int64_t n,
              int64_t rows, int64_t cols) {
  if (f.format == OutFormat::kBF16) {
    uint16_t h;
    std::memcpy(&h, data_row + 2 * n, 2);
    return rules::bf16_to_float(h);
  }
  const float q = rules::e4m3_to_float(data_row[n]);
  if (f.format == OutFormat::kMXFP8) {
    const int64_t sc = cdiv(cols, 32);
    const int64_t off = f.layout == ScaleLayout::kBlocked128x4 ? rules::blocked128x4_offset(r, n / 32, sc)
                                                               : r * sc + n / 32;
    return q * rules::e8m0_value(scales[off]);
  }
  float s;
  std::memcpy(&s, scales + 4 * ((n / 128) * pad4(rows) + r), 4);
  return q * s;
}

struct Verdict {
  double err = kNotRun, ref_quant_err = kNotRun, byte_mismatch = kNotRun;
  bool ok = false;
};

// Reference quantization of the FP64 rows (rounded to FP32, what an exact FP32 accumulator would hold).
struct RefQuant {
  std::vector<uint8_t> data, scales;
  std::vector<float> deq;  // R x N
};
RefQuant ref_quantize(const OutFormatChoice& f, const std::vector<double>& ref, int64_t R, int64_t N) {
  std::vector<float> x(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) x[i] = static_cast<float>(ref[i]);
  RefQuant q;
  q.data.assign(static_cast<size_t>(R * N) * elem_bytes(f), 0);
  q.scales.assign(scale_buffer_bytes(f, R, N), 0);
  if (f.format == OutFormat::kBF16) {
    reference::to_bf16(x.data(), R, N, N, reinterpret_cast<uint16_t*>(q.data.data()), N);
  } else {
    OutputSpec spec;
    spec.format = f.format;
    spec.rule = f.rule;
    spec.layout = f.layout;
    spec.data = q.data.data();
    spec.ld = N;
    spec.scales = q.scales.data();
    reference::quantize(x.data(), R, N, N, spec);
  }
  q.deq.resize(static_cast<size_t>(R * N));
  const size_t eb = elem_bytes(f);
  for (int64_t i = 0; i < R; ++i)
    for (int64_t n = 0; n < N; ++n)
      q.deq[i * N + n] = dequant(f, q.data.data() + i * N * eb, q.scales.data(), i, n, R, N);
  return q;
}

Verdict verify_output(const OutFormatChoice& f, const DeviceBuffer& data, const DeviceBuffer& scales, int64_t M,
                      int64_t N, const std::vector<int64_t>& rows, const std::vector<double>& ref) {
  const int64_t R = static_cast<int64_t>(rows.size());
  const size_t eb = elem_bytes(f);
  std::vector<uint8_t> h_data(static_cast<size_t>(R * N) * eb), h_scales(scales.bytes());
  for (int64_t i = 0; i < R; ++i) data.download(h_data.data() + i * N * eb, N * eb, rows[i] * N * eb);
  if (!h_scales.empty()) scales.download(h_scales.data(), h_scales.size());
  std::vector<float> got(static_cast<size_t>(R * N));
  for (int64_t i = 0; i < R; ++i)
    for (int64_t n = 0; n < N; ++n)
      got[i * N + n] = dequant(f, h_data.data() + i * N * eb, h_scales.data(), rows[i], n, M, N);
  Verdict v;
  v.err = rel_error(got.data(), ref.data(), got.size());
  const RefQuant rq = ref_quantize(f, ref, R, N);
  v.ref_quant_err = rel_error(rq.deq.data(), ref.data(), rq.deq.size());
  size_t diff = 0;
  for (size_t i = 0; i < h_data.size(); ++i) diff += h_data[i] != rq.data[i];
  v.byte_mismatch = static_cast<double>(diff) / static_cast<double>(h_data.size());
  const double cap = f.format == OutFormat::kBF16 ? 1.5e-2 : 7e-2;
  v.ok = std::isfinite(v.err) && v.err <= 1.10 * v.ref_quant_err + 1e-3 && v.err <= cap;
  return v;
}

std::string short_what(const std::exception& e) {
  std::string s = e.what();
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}

// Inputs of one shape, on the host (for the reference) and on the device.
struct Inputs {
  std::vector<uint8_t> a, b;
  std::vector<float> sfa, sfb;
  DeviceBuffer da, db, dsfa, dsfb;
};
Inputs make_inputs(const GemmShape& s, uint64_t seed) {
  Inputs in;
  const int64_t KB = cdiv(s.K, 128), NB = cdiv(s.N, 128);
  in.a = random_e4m3(static_cast<size_t>(s.M * s.K), 2.0, seed);
  in.b = random_e4m3(static_cast<size_t>(s.N * s.K), 2.0, seed + 1);
  in.sfa = random_scales(static_cast<size_t>(KB * pad4(s.M)), 0.25f, 4.0f, seed + 2);
  in.sfb = random_scales(static_cast<size_t>(NB * KB), 0.25f, 4.0f, seed + 3);
  in.da = DeviceBuffer(in.a.size());
  in.da.upload(in.a.data(), in.a.size());
  in.db = DeviceBuffer(in.b.size());
  in.db.upload(in.b.data(), in.b.size());
  in.dsfa = DeviceBuffer(in.sfa.size() * 4);
  in.dsfa.upload(in.sfa.data(), in.sfa.size() * 4);
  in.dsfb = DeviceBuffer(in.sfb.size() * 4);
  in.dsfb.upload(in.sfb.data(), in.sfb.size() * 4);
  return in;
}

OutputSpec make_spec(const OutFormatChoice& f, void* data, void* scales) {
  OutputSpec o;
  o.format = f.format;
  o.rule = f.rule;
  o.layout = f.layout;
  o.data = data;
  o.ld = 0;
  o.scales = f.format == OutFormat::kBF16 ? nullptr : scales;
  return o;
}

}  // namespace

std::vector<GemmShape> peers_dense_shapes() {
  return {{1, 7168, 2048},    {128, 7168, 2048},   {256, 7168, 2048},   {128, 4096, 7168},
          {256, 4096, 7168},  {4096, 7168, 2048},  {4096, 4096, 7168},  {8192, 7168, 2048}};
}

std::vector<OutFormatChoice> all_out_formats() {
  return {{"bf16", OutFormat::kBF16, ScaleRule::kRCEIL, ScaleLayout::kCompact},
          {"mxfp8", OutFormat::kMXFP8, ScaleRule::kRCEIL, ScaleLayout::kCompact},
          {"mxfp8_blocked", OutFormat::kMXFP8, ScaleRule::kRCEIL, ScaleLayout::kBlocked128x4},
          {"mxfp8_floor", OutFormat::kMXFP8, ScaleRule::kFLOOR, ScaleLayout::kCompact},
          {"g128_fp32", OutFormat::kG128FP32, ScaleRule::kRCEIL, ScaleLayout::kCompact},
          {"g128_ue8m0", OutFormat::kG128UE8M0, ScaleRule::kRCEIL, ScaleLayout::kCompact}};
}

bool parse_out_format(const std::string& name, OutFormatChoice* out) {
  for (const auto& f : all_out_formats()) {
    if (f.name == name) {
      *out = f;
      return true;
    }
  }
  return false;
}

double gemm_floor_us(const GemmShape& s, const OutFormatChoice& f, double* bytes_out) {
  const double KB = static_cast<double>(cdiv(s.K, 128)), NB = static_cast<double>(cdiv(s.N, 128));
  const double M = static_cast<double>(s.M), N = static_cast<double>(s.N), K = static_cast<double>(s.K);
  double bytes = M * K + N * K + 4 * M * KB + 4 * NB * KB + M * N * static_cast<double>(elem_bytes(f));
  if (f.format == OutFormat::kMXFP8) bytes += M * static_cast<double>(cdiv(s.N, 32));
  if (f.format == OutFormat::kG128FP32 || f.format == OutFormat::kG128UE8M0)
    bytes += 4 * M * static_cast<double>(cdiv(s.N, 128));
  if (bytes_out) *bytes_out = bytes;
  return std::max(2 * M * N * K / kSpecFlops, bytes / kCopyBps) * 1e6;
}

// Kernel time without the per-call event overhead (which reads 3-6 us high against the profiler, see bench.h):
// one CUDA graph of R launches, launch r on its own cold input/output set (together >= ~4x the 50 MB L2, so every
// launch reads its operands from HBM, as after an L2 flush), timed with time_us and divided by R.
double graph_us_per_call(const BenchContext& ctx, int R, const std::function<void(int)>& launch) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  check_cuda(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal), "begin capture");
  try {
    for (int r = 0; r < R; ++r) launch(r);
  } catch (...) {
    cudaStreamEndCapture(ctx.stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  check_cuda(cudaStreamEndCapture(ctx.stream, &graph), "end capture");
  check_cuda(cudaGraphInstantiate(&exec, graph, 0), "graph instantiate");
  double us = kNotRun;
  try {
    us = time_us(ctx, [&] { check_cuda(cudaGraphLaunch(exec, ctx.stream), "graph launch"); }) / R;
  } catch (...) {
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    throw;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  return us;
}

// How many cold sets a graph replay uses for a problem whose one launch touches `set_bytes`.
int graph_sets(double set_bytes) {
  const int r = static_cast<int>(std::ceil(200e6 / std::max(set_bytes, 1.0)));
  return std::clamp(r, 2, 16);
}

std::vector<BenchRow> bench_gemm(const BenchContext& ctx, const std::vector<GemmShape>& shapes,
                                 const std::vector<OutFormatChoice>& formats, bool ceilings, std::string* peer_log) {
  std::vector<BenchRow> rows;
  const cudaStream_t st = ctx.stream;

  // The cuBLASLt peer: calibrated once against the CPU reference (operand order, scale layouts).
  std::unique_ptr<CublasLtPeer> peer;
  std::string peer_note;
  try {
    peer = std::make_unique<CublasLtPeer>();
    const std::string log = peer->calibrate(st);
    if (peer_log) *peer_log = log;
    std::printf("cuBLASLt peer: %s\n", log.c_str());
  } catch (const std::exception& e) {
    peer.reset();
    peer_note = std::string("cuBLASLt unavailable: ") + short_what(e);
    if (peer_log) *peer_log = peer_note;
    std::printf("%s\n", peer_note.c_str());
  }
  const std::string cub = peer ? peer->peer_name() : "cublaslt";

  if (ceilings) {
    BenchRow c;
    c.op = "ceiling_copy";
    c.format = "d2d_1GiB";
    c.mxgemm_us = kNotRun;
    try {
      const double tbps = copy_ceiling_TBps(ctx);
      c.extra["copy_TBps"] = tbps;
      char b[96];
      std::snprintf(b, sizeof b, "device-to-device copy %.2f TB/s (read + write)", tbps);
      c.note = b;
    } catch (const std::exception& e) {
      c.note = short_what(e);
    }
    rows.push_back(c);
    if (peer) {
      BenchRow g;
      g.op = "ceiling_cublaslt_fp8";
      g.M = g.N = g.K = 8192;
      g.format = "bf16";
      g.mxgemm_us = kNotRun;
      try {
        const double tf = cublaslt_ceiling_TFLOPs(ctx, *peer);
        g.extra["tflops"] = tf;
        g.peers[cub] = 2.0 * 8192.0 * 8192.0 * 8192.0 / tf / 1e6;
        char b[96];
        std::snprintf(b, sizeof b, "%s FP8 8192^3: %.0f TFLOP/s", cub.c_str(), tf);
        g.note = b;
      } catch (const std::exception& e) {
        g.note = short_what(e);
      }
      rows.push_back(g);
    }
  }

  uint64_t seed = 1000;
  for (const GemmShape& s : shapes) {
    seed += 17;
    std::printf("gemm %ldx%ldx%ld: inputs", s.M, s.N, s.K);
    std::fflush(stdout);
    Inputs in = make_inputs(s, seed);
    const std::vector<int64_t> vrows = sample_rows(s.M, 8);
    std::vector<double> ref;
    if (ctx.verify) {
      std::printf(", reference (%zu rows)", vrows.size());
      std::fflush(stdout);
      ref = reference_rows(s.M, s.N, s.K, in.a.data(), in.sfa.data(), in.b.data(), in.sfb.data(), vrows);
    }
    std::printf(", timing\n");
    std::fflush(stdout);

    // Cold operand sets for the graph timings: set 0 is `in`, sets 1..R-1 are device copies of A and B.
    const int R = graph_sets(double(s.M) * s.K + double(s.N) * s.K + double(s.M) * s.N * 2);
    std::vector<DeviceBuffer> set_a, set_b;
    for (int r = 1; r < R; ++r) {
      set_a.emplace_back(in.da.bytes());
      set_b.emplace_back(in.db.bytes());
      check_cuda(cudaMemcpy(set_a.back().get(), in.da.get(), in.da.bytes(), cudaMemcpyDeviceToDevice), "copy A set");
      check_cuda(cudaMemcpy(set_b.back().get(), in.db.get(), in.db.bytes(), cudaMemcpyDeviceToDevice), "copy B set");
    }
    auto set_a_ptr = [&](int r) { return r == 0 ? in.da.get() : set_a[r - 1].get(); };
    auto set_b_ptr = [&](int r) { return r == 0 ? in.db.get() : set_b[r - 1].get(); };

    // cuBLASLt, BF16 out: once per shape (the same number stands beside every format of this shape).
    DeviceBuffer d_cub(static_cast<size_t>(s.M * s.N) * 2);
    double cub_us = kNotRun, cub_err = kNotRun, cub_graph_us = kNotRun;
    std::string cub_note = peer_note;
    if (peer) {
      try {
        LtGemm g(*peer, peer->config(), s.M, s.N, s.K, in.da.get(), in.dsfa.as<float>(), in.db.get(),
                 in.dsfb.as<float>(), d_cub.get());
        g.poison_output();
        g.run(st);
        check_cuda(cudaStreamSynchronize(st), "cuBLASLt run");
        if (ctx.verify && peer->config().recipe == LtRecipe::kBlockwise) {
          const std::vector<float> got = g.download_rows(vrows);
          cub_err = rel_error(got.data(), ref.data(), got.size());
          if (!(cub_err <= 1e-2)) {  // bf16 output: ~1.7e-3 when right
            char b[96];
            std::snprintf(b, sizeof b, "cuBLASLt result WRONG (rel err %.3g)", cub_err);
            cub_note = b;
          }
        }
        cub_us = time_us(ctx, [&] { g.run(st); });
        // Graph timing on R cold sets (each LtGemm bound to its own A, B and D).
        std::vector<DeviceBuffer> set_d;
        std::vector<std::unique_ptr<LtGemm>> set_g;
        for (int r = 0; r < R; ++r) {
          set_d.emplace_back(static_cast<size_t>(s.M * s.N) * 2);
          set_g.push_back(std::make_unique<LtGemm>(*peer, peer->config(), s.M, s.N, s.K, set_a_ptr(r),
                                                   in.dsfa.as<float>(), set_b_ptr(r), in.dsfb.as<float>(),
                                                   set_d.back().get()));
        }
        cub_graph_us = graph_us_per_call(ctx, R, [&](int r) { set_g[r]->run(st); });
      } catch (const std::exception& e) {
        cub_note = "cuBLASLt: " + short_what(e);
      }
    }
    {
      // The quantizer's input: bf16 [M, N] random normal values with the RMS of this GEMM's output (cuBLASLt
      // writes D transposed and, at small M, row-padded, so its buffer is not the [M, N] tensor to quantize).
      double rms = 100.0;
      if (!ref.empty()) {
        double ss = 0;
        for (double v : ref) ss += v * v;
        rms = std::sqrt(ss / static_cast<double>(ref.size()));
      }
      Rng rng(seed + 9);
      std::vector<uint16_t> table(65536), h(static_cast<size_t>(s.M * s.N));
      for (auto& t : table) t = rules::bf16_rn(static_cast<float>(rms * rng.normal()));
      for (size_t i = 0; i < h.size(); i += 4) {
        uint64_t r = rng.next();
        for (size_t j = i; j < std::min(h.size(), i + 4); ++j, r >>= 16) h[j] = table[r & 0xffff];
      }
      d_cub.upload(h.data(), h.size() * 2);
    }

    for (const OutFormatChoice& f : formats) {
      BenchRow row;
      row.op = "gemm_nt";
      row.M = s.M;
      row.N = s.N;
      row.K = s.K;
      row.format = f.name;
      row.mxgemm_us = kNotRun;
      std::string note = cub_note;
      auto add_note = [&](const std::string& t) { note += (note.empty() ? "" : "; ") + t; };

      double bytes = 0;
      const double floor_us = gemm_floor_us(s, f, &bytes);
      row.extra["floor_us"] = floor_us;
      row.peers[cub] = cub_us;
      if (std::isfinite(cub_err)) row.extra["cublaslt_rel_err"] = cub_err;

      DeviceBuffer out_data(static_cast<size_t>(s.M * s.N) * elem_bytes(f));
      DeviceBuffer out_scales(scale_buffer_bytes(f, s.M, s.N));
      GemmNTArgs args;
      args.M = s.M;
      args.N = s.N;
      args.K = s.K;
      args.a = in.da.get();
      args.sfa = in.dsfa.as<float>();
      args.b = in.db.get();
      args.sfb = in.dsfb.as<float>();
      args.out = make_spec(f, out_data.get(), out_scales.get());

      // mxgemm: one checked call on poisoned outputs, then the timing.
      bool ran = false;
      try {
        out_data.fill(0xff);
        out_scales.fill(0xff);
        fp8_gemm_nt(args, st);
        check_cuda(cudaGetLastError(), "fp8_gemm_nt launch");
        check_cuda(cudaStreamSynchronize(st), "fp8_gemm_nt");
        ran = true;
      } catch (const Error& e) {
        add_note(std::string("mxgemm not run: ") + short_what(e));
      } catch (const std::exception& e) {
        add_note(std::string("mxgemm failed: ") + short_what(e));
        // A fault inside a kernel leaves the context unusable: stop here with what was measured.
        if (cudaGetLastError() != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
          row.note = note + "; CUDA context lost, gemm mode stopped";
          rows.push_back(row);
          return rows;
        }
      }
      if (ran) {
        if (ctx.verify) {
          const Verdict v = verify_output(f, out_data, out_scales, s.M, s.N, vrows, ref);
          row.verified = v.ok;
          row.extra["rel_err"] = v.err;
          row.extra["ref_quant_err"] = v.ref_quant_err;
          row.extra["byte_mismatch_frac"] = v.byte_mismatch;
          if (!v.ok) add_note("VERIFY FAILED");
        }
        try {
          row.mxgemm_us = time_us(ctx, [&] { fp8_gemm_nt(args, st); });
          // The same on R cold sets in one graph (no per-call event overhead).
          std::vector<DeviceBuffer> set_data, set_scales;
          std::vector<GemmNTArgs> set_args;
          for (int r = 0; r < R; ++r) {
            set_data.emplace_back(static_cast<size_t>(s.M * s.N) * elem_bytes(f));
            set_scales.emplace_back(scale_buffer_bytes(f, s.M, s.N));
            GemmNTArgs ar = args;
            ar.a = set_a_ptr(r);
            ar.b = set_b_ptr(r);
            ar.out = make_spec(f, set_data.back().get(), set_scales.back().get());
            set_args.push_back(ar);
          }
          const double g_us = graph_us_per_call(ctx, R, [&](int r) { fp8_gemm_nt(set_args[r], st); });
          row.extra["graph_us_per_call"] = g_us;
          row.extra["graph_calls"] = R;
          // The same graph with programmatic dependent launch (GemmNTArgs::pdl): each call may start while the
          // previous one finishes (its weights stream in early). What a chain of GEMMs in a graph sees per call.
          for (GemmNTArgs& ar : set_args) ar.pdl = true;
          row.extra["graph_pdl_us_per_call"] = graph_us_per_call(ctx, R, [&](int r) { fp8_gemm_nt(set_args[r], st); });
          if (std::isfinite(cub_graph_us)) {
            row.extra["cublaslt_graph_us_per_call"] = cub_graph_us;
            row.extra["speedup_graph_vs_cublaslt"] = cub_graph_us / g_us;
          }
        } catch (const std::exception& e) {
          add_note(std::string("mxgemm timing failed: ") + short_what(e));
        }
      }

      // The unfused pipeline's second half: mxgemm::quantize of the bf16 GEMM output.
      double q_us = kNotRun;
      if (f.format != OutFormat::kBF16) {
        DeviceBuffer q_data(static_cast<size_t>(s.M * s.N)), q_scales(scale_buffer_bytes(f, s.M, s.N));
        QuantizeArgs qa;
        qa.M = s.M;
        qa.N = s.N;
        qa.x = d_cub.get();
        qa.type = InputType::kBF16;
        qa.out = make_spec(f, q_data.get(), q_scales.get());
        try {
          quantize(qa, st);
          check_cuda(cudaGetLastError(), "quantize launch");
          check_cuda(cudaStreamSynchronize(st), "quantize");
          q_us = time_us(ctx, [&] { quantize(qa, st); });
        } catch (const Error& e) {
          add_note(std::string("quantize not run: ") + short_what(e));
        } catch (const std::exception& e) {
          add_note(std::string("quantize failed: ") + short_what(e));
          if (cudaGetLastError() != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
            row.note = note + "; CUDA context lost, gemm mode stopped";
            rows.push_back(row);
            return rows;
          }
        }
        row.peers["quantize"] = q_us;
        row.peers[cub + "+quantize"] = cub_us + q_us;
      }

      const double pipeline_us = f.format == OutFormat::kBF16 ? cub_us : cub_us + q_us;
      if (std::isfinite(row.mxgemm_us)) {
        row.extra["tflops"] = 2.0 * s.M * s.N * s.K / row.mxgemm_us / 1e6;
        row.extra["gbps"] = bytes / row.mxgemm_us / 1e3;
        row.extra["floor_frac"] = floor_us / row.mxgemm_us;
        row.extra["speedup_vs_cublaslt"] = cub_us / row.mxgemm_us;
        row.extra["speedup_vs_cublaslt_plus_quant"] = pipeline_us / row.mxgemm_us;
      }
      row.note = note;
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace mxgemm::bench
