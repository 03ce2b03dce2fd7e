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
#include "bench_ceiling.h"
#include "bench_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <random>

#include "bench_util.h"
#include "cublaslt_peer.h"
#include "host/gemm_dispatch.h"
#include "mxgemm/format_rules.h"
#include "mxgemm/reference.h"

namespace mxgemm::bench {
namespace {

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t pad4(int64_t x) { return (x + 3) / 4 * 4; }

constexpr double kSpecFlops = 1979e12;  // H100 SXM dense FP8 (PEERS.md floor)
constexpr double kCopyBps = 3.0e12;     // measured device-to-device copy (PEERS.md)

}  // namespace

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

namespace {

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



}  // namespace

GemmInputs make_gemm_inputs(const GemmShape& s, uint64_t seed) {
  GemmInputs in;
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
// launch reads its operands from HBM, as after an L2 flush). Captured once; time() replays it with time_us and
// divides by R.
class GraphTimer {
 public:
  GraphTimer(const BenchContext& ctx, int R, const std::function<void(int)>& launch) : R_(R) {
    cudaGraph_t graph = nullptr;
    check_cuda(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal), "begin capture");
    try {
      for (int r = 0; r < R; ++r) launch(r);
    } catch (...) {
      cudaStreamEndCapture(ctx.stream, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    check_cuda(cudaStreamEndCapture(ctx.stream, &graph), "end capture");
    const cudaError_t e = cudaGraphInstantiate(&exec_, graph, 0);
    cudaGraphDestroy(graph);
    check_cuda(e, "graph instantiate");
  }
  ~GraphTimer() {
    if (exec_) cudaGraphExecDestroy(exec_);
  }
  GraphTimer(const GraphTimer&) = delete;
  GraphTimer& operator=(const GraphTimer&) = delete;

  double time(const BenchContext& ctx) const {
    return time_us(ctx, [&] { check_cuda(cudaGraphLaunch(exec_, ctx.stream), "graph launch"); }) / R_;
  }

 private:
  int R_;
  cudaGraphExec_t exec_ = nullptr;
};

// How many cold sets a graph replay uses for a problem whose one launch touches `set_bytes`.
int graph_sets(double set_bytes) {
  const int r = static_cast<int>(std::ceil(200e6 / std::max(set_bytes, 1.0)));
  return std::clamp(r, 2, 16);
}

// Interleaved timing. The H100 here runs at its power cap under this load: the SM clock swings between ~1.3 and
// 1.98 GHz with "SW power cap" as the throttle reason (bench/results/2026-11-25-h100-gemm-s3-tiles-cluster-smi.csv),
// and a kernel timed right after an idle phase (the CPU reference) reads up to ~15% faster than the same kernel timed
// after other GEMMs (-s3-order-rounds1.json: mxfp8 timed first, bf16 after it). Timing each candidate to completion
// one after the other therefore favours whichever runs first. Instead every measurement of a shape (cuBLASLt, each
// format and tile, events and graphs, the quantizer) is taken once per round, each round starts one step further
// along the list, and each reports its median over the rounds (-s3-order-rounds5.json). Interleaving alone left a
// position effect: a measurement that followed a back-to-back GEMM graph read slower than one that followed a
// (memory-bound, cooler) quantizer measurement (-s3-final1-all.json: mxfp8, the only format right after bf16's PDL
// graph, was the slowest format at every large shape). So each sample is taken right after an untimed run of the
// same measurement, which puts the GPU into that workload's own power state first. Even so, a fixed cyclic order kept
// each measurement behind the same neighbour in every round, and the one behind bf16's back-to-back PDL graph (mxfp8)
// still read up to ~6% slow at large M: with the formats listed in reverse order mxfp8 was level with the others
// and the format then listed first read slow (bench/results/2026-11-25-h100-gemm-s9-order-{a,b}.json). So each round
// takes the measurements in its own shuffled order (fixed seeds: the same orders every run), and the median over the
// rounds no longer carries one neighbour's effect.
class Interleaved {
 public:
  // Registers a measurement; returns its handle. `once` returns one sample in µs (it may throw).
  int add(std::function<double()> once) {
    items_.push_back(Item{std::move(once), {}, ""});
    return static_cast<int>(items_.size()) - 1;
  }
  void run(int rounds) {
    std::vector<size_t> order(items_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    for (int r = 0; r < rounds; ++r) {
      std::mt19937 rng(0x5eedu + static_cast<uint32_t>(r));
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t i : order) {
        Item& it = items_[i];
        if (!it.error.empty()) continue;
        try {
          it.once();  // priming run, discarded
          it.samples.push_back(it.once());
        } catch (const std::exception& e) {
          it.error = short_what(e);
        }
      }
    }
  }
  double median(int h) const {
    std::vector<double> v = items_[h].samples;
    if (v.empty()) return kNotRun;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }
  // Max / min over the rounds of a measurement (its spread); NaN when it has none.
  double spread(int h) const {
    const std::vector<double>& v = items_[h].samples;
    if (v.empty()) return kNotRun;
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return *hi / *lo;
  }
  const std::string& error(int h) const { return items_[h].error; }

 private:
  struct Item {
    std::function<double()> once;
    std::vector<double> samples;
    std::string error;
  };
  std::vector<Item> items_;
};

bool parse_tile(const std::string& text, TileRequest* out) {
  TileRequest t;
  if (text != "auto" && !host::parse_tile_spec(text, &t.spec)) return false;
  t.name = text;
  *out = t;
  return true;
}

std::vector<BenchRow> bench_gemm(const BenchContext& ctx, const std::vector<GemmShape>& shapes,
                                 const std::vector<OutFormatChoice>& formats, const std::vector<TileRequest>& tiles,
                                 bool ceilings, std::string* peer_log) {
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
    // The tensor cores alone at the power cap, over about as long as the large shapes' GEMMs run.
    for (const double target_us : {100.0, 400.0}) {
      BenchRow t;
      t.op = "ceiling_wgmma_fp8";
      t.format = "m64n128k32";
      t.mxgemm_us = kNotRun;
      try {
        const WgmmaCeiling c = wgmma_ceiling(ctx, target_us);
        t.extra["tflops"] = c.tflops;
        t.extra["tflops_whole"] = c.tflops_whole;
        t.extra["us"] = c.us;
        t.extra["us_double"] = c.us_double;
        t.extra["iterations"] = static_cast<double>(c.iterations);
        char b[160];
        std::snprintf(b, sizeof b, "wgmma only, %.0f us run: %.0f TFLOP/s steady (%.0f with launch)", c.us, c.tflops,
                      c.tflops_whole);
        t.note = b;
      } catch (const std::exception& e) {
        t.note = short_what(e);
      }
      rows.push_back(t);
    }
  }

  uint64_t seed = 1000;
  for (const GemmShape& s : shapes) {
    seed += 17;
    std::printf("gemm %ldx%ldx%ld: inputs", s.M, s.N, s.K);
    std::fflush(stdout);
    GemmInputs in = make_gemm_inputs(s, seed);
    const std::vector<int64_t> vrows = sample_rows(s.M, 8);
    std::vector<double> ref;
    if (ctx.verify) {
      std::printf(", reference (%zu rows)", vrows.size());
      std::fflush(stdout);
      ref = reference_rows(s.M, s.N, s.K, in.a.data(), in.sfa.data(), in.b.data(), in.sfb.data(), vrows);
    }
    std::printf(", checks");
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
    Interleaved timing;

    // cuBLASLt, BF16 out: once per shape (the same number stands beside every format of this shape).
    DeviceBuffer d_cub(static_cast<size_t>(s.M * s.N) * 2);
    double cub_err = kNotRun;
    int cub_events = -1, cub_graph = -1;
    std::string cub_note = peer_note;
    std::unique_ptr<LtGemm> cub_gemm;
    std::vector<DeviceBuffer> cub_set_d;
    std::vector<std::unique_ptr<LtGemm>> cub_set_g;
    std::unique_ptr<GraphTimer> cub_graph_timer;
    if (peer) {
      try {
        cub_gemm = std::make_unique<LtGemm>(*peer, peer->config(), s.M, s.N, s.K, in.da.get(), in.dsfa.as<float>(),
                                            in.db.get(), in.dsfb.as<float>(), d_cub.get());
        cub_gemm->poison_output();
        cub_gemm->run(st);
        check_cuda(cudaStreamSynchronize(st), "cuBLASLt run");
        if (ctx.verify && peer->config().recipe == LtRecipe::kBlockwise) {
          const std::vector<float> got = cub_gemm->download_rows(vrows);
          cub_err = rel_error(got.data(), ref.data(), got.size());
          if (!(cub_err <= 1e-2)) {  // bf16 output: ~1.7e-3 when right
            char b[96];
            std::snprintf(b, sizeof b, "cuBLASLt result WRONG (rel err %.3g)", cub_err);
            cub_note = b;
          }
        }
        // Graph timing on R cold sets (each LtGemm bound to its own A, B and D).
        for (int r = 0; r < R; ++r) {
          cub_set_d.emplace_back(static_cast<size_t>(s.M * s.N) * 2);
          cub_set_g.push_back(std::make_unique<LtGemm>(*peer, peer->config(), s.M, s.N, s.K, set_a_ptr(r),
                                                       in.dsfa.as<float>(), set_b_ptr(r), in.dsfb.as<float>(),
                                                       cub_set_d.back().get()));
        }
        cub_graph_timer = std::make_unique<GraphTimer>(ctx, R, [&](int r) { cub_set_g[r]->run(st); });
        cub_events = timing.add([&] { return time_us(ctx, [&] { cub_gemm->run(st); }); });
        cub_graph = timing.add([&] { return cub_graph_timer->time(ctx); });
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

    // One variant per (format, tile): a checked call on poisoned outputs, then its measurements are registered.
    struct Variant {
      OutFormatChoice f;
      TileRequest tile;
      BenchRow row;
      std::string note;
      double bytes = 0, floor_us = 0;
      DeviceBuffer out_data, out_scales, q_data, q_scales;
      GemmNTArgs args;
      QuantizeArgs qa;
      std::vector<DeviceBuffer> set_data, set_scales;
      std::vector<GemmNTArgs> set_args, set_args_pdl;
      std::unique_ptr<GraphTimer> graph, graph_pdl;
      int events = -1, graph_h = -1, graph_pdl_h = -1, quant = -1;
    };
    std::vector<std::unique_ptr<Variant>> variants;
    bool context_lost = false;
    for (const TileRequest& tile : tiles) {
      for (const OutFormatChoice& f : formats) {
        if (context_lost) break;
        auto vp = std::make_unique<Variant>();
        Variant& v = *vp;
        v.f = f;
        v.tile = tile;
        v.row.op = "gemm_nt";
        v.row.M = s.M;
        v.row.N = s.N;
        v.row.K = s.K;
        v.row.format = tile.is_auto() ? f.name : f.name + "@" + tile.name;
        v.row.mxgemm_us = kNotRun;
        v.note = cub_note;
        auto add_note = [&v](const std::string& t) { v.note += (v.note.empty() ? "" : "; ") + t; };
        v.floor_us = gemm_floor_us(s, f, &v.bytes);
        v.row.extra["floor_us"] = v.floor_us;
        if (std::isfinite(cub_err)) v.row.extra["cublaslt_rel_err"] = cub_err;
        if (!tile.is_auto()) {
          v.row.extra["tile_block_m"] = tile.spec.block_m;
          v.row.extra["tile_block_n"] = tile.spec.block_n;
          v.row.extra["tile_cluster_m"] = tile.spec.cluster_m;
          v.row.extra["tile_cluster_n"] = tile.spec.cluster_n;
          v.row.extra["tile_split_k"] = tile.spec.split_k;
        }

        v.out_data = DeviceBuffer(static_cast<size_t>(s.M * s.N) * elem_bytes(f));
        v.out_scales = DeviceBuffer(scale_buffer_bytes(f, s.M, s.N));
        v.args.M = s.M;
        v.args.N = s.N;
        v.args.K = s.K;
        v.args.a = in.da.get();
        v.args.sfa = in.dsfa.as<float>();
        v.args.b = in.db.get();
        v.args.sfb = in.dsfb.as<float>();
        v.args.out = make_spec(f, v.out_data.get(), v.out_scales.get());
        auto gemm = [tile](const GemmNTArgs& a, cudaStream_t stream) {
          if (tile.is_auto())
            fp8_gemm_nt(a, stream);
          else
            host::fp8_gemm_nt_with_tile(a, tile.spec, stream);
        };

        bool ran = false;
        try {
          v.out_data.fill(0xff);
          v.out_scales.fill(0xff);
          gemm(v.args, st);
          check_cuda(cudaGetLastError(), "fp8_gemm_nt launch");
          check_cuda(cudaStreamSynchronize(st), "fp8_gemm_nt");
          ran = true;
        } catch (const Error& e) {
          add_note(std::string("mxgemm not run: ") + short_what(e));
        } catch (const std::exception& e) {
          add_note(std::string("mxgemm failed: ") + short_what(e));
          // A fault inside a kernel leaves the context unusable: stop here with what was measured.
          if (cudaGetLastError() != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
            add_note("CUDA context lost, gemm mode stopped");
            context_lost = true;
          }
        }
        if (ran) {
          if (ctx.verify) {
            const Verdict vd = verify_output(f, v.out_data, v.out_scales, s.M, s.N, vrows, ref);
            v.row.verified = vd.ok;
            v.row.extra["rel_err"] = vd.err;
            v.row.extra["ref_quant_err"] = vd.ref_quant_err;
            v.row.extra["byte_mismatch_frac"] = vd.byte_mismatch;
            if (!vd.ok) add_note("VERIFY FAILED");
          }
          try {
            for (int r = 0; r < R; ++r) {
              v.set_data.emplace_back(static_cast<size_t>(s.M * s.N) * elem_bytes(f));
              v.set_scales.emplace_back(scale_buffer_bytes(f, s.M, s.N));
              GemmNTArgs ar = v.args;
              ar.a = set_a_ptr(r);
              ar.b = set_b_ptr(r);
              ar.out = make_spec(f, v.set_data.back().get(), v.set_scales.back().get());
              v.set_args.push_back(ar);
              ar.pdl = true;
              v.set_args_pdl.push_back(ar);
            }
            v.graph = std::make_unique<GraphTimer>(ctx, R, [&](int r) { gemm(v.set_args[r], st); });
            // The same graph with programmatic dependent launch (GemmNTArgs::pdl): each call may start while the
            // previous one finishes (its weights stream in early). What a chain of GEMMs in a graph sees per call.
            v.graph_pdl = std::make_unique<GraphTimer>(ctx, R, [&](int r) { gemm(v.set_args_pdl[r], st); });
            v.events = timing.add([&v, &ctx, gemm, st] { return time_us(ctx, [&] { gemm(v.args, st); }); });
            v.graph_h = timing.add([&v, &ctx] { return v.graph->time(ctx); });
            v.graph_pdl_h = timing.add([&v, &ctx] { return v.graph_pdl->time(ctx); });
          } catch (const std::exception& e) {
            add_note(std::string("mxgemm timing setup failed: ") + short_what(e));
          }
        }

        // The unfused pipeline's second half: mxgemm::quantize of the bf16 GEMM output (once per format).
        if (f.format != OutFormat::kBF16 && tile.is_auto() && !context_lost) {
          v.q_data = DeviceBuffer(static_cast<size_t>(s.M * s.N));
          v.q_scales = DeviceBuffer(scale_buffer_bytes(f, s.M, s.N));
          v.qa.M = s.M;
          v.qa.N = s.N;
          v.qa.x = d_cub.get();
          v.qa.type = InputType::kBF16;
          v.qa.out = make_spec(f, v.q_data.get(), v.q_scales.get());
          try {
            quantize(v.qa, st);
            check_cuda(cudaGetLastError(), "quantize launch");
            check_cuda(cudaStreamSynchronize(st), "quantize");
            v.quant = timing.add([&v, &ctx, st] { return time_us(ctx, [&] { quantize(v.qa, st); }); });
          } catch (const Error& e) {
            add_note(std::string("quantize not run: ") + short_what(e));
          } catch (const std::exception& e) {
            add_note(std::string("quantize failed: ") + short_what(e));
            if (cudaGetLastError() != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
              add_note("CUDA context lost, gemm mode stopped");
              context_lost = true;
            }
          }
        }
        variants.push_back(std::move(vp));
      }
    }

    std::printf(", timing (%d interleaved rounds)\n", ctx.rounds);
    std::fflush(stdout);
    if (!context_lost) timing.run(ctx.rounds);

    const double cub_us = cub_events >= 0 ? timing.median(cub_events) : kNotRun;
    const double cub_graph_us = cub_graph >= 0 ? timing.median(cub_graph) : kNotRun;
    for (auto& vp : variants) {
      Variant& v = *vp;
      BenchRow& row = v.row;
      auto add_note = [&v](const std::string& t) { v.note += (v.note.empty() ? "" : "; ") + t; };
      row.peers[cub] = cub_us;
      if (cub_events >= 0 && !timing.error(cub_events).empty()) add_note("cuBLASLt timing: " + timing.error(cub_events));
      if (v.events >= 0) {
        row.mxgemm_us = timing.median(v.events);
        row.extra["events_spread"] = timing.spread(v.events);
        row.extra["graph_us_per_call"] = timing.median(v.graph_h);
        row.extra["graph_spread"] = timing.spread(v.graph_h);
        row.extra["graph_calls"] = R;
        row.extra["graph_pdl_us_per_call"] = timing.median(v.graph_pdl_h);
        for (int h : {v.events, v.graph_h, v.graph_pdl_h})
          if (!timing.error(h).empty()) add_note("mxgemm timing failed: " + timing.error(h));
        if (std::isfinite(cub_graph_us)) {
          row.extra["cublaslt_graph_us_per_call"] = cub_graph_us;
          row.extra["speedup_graph_vs_cublaslt"] = cub_graph_us / timing.median(v.graph_h);
        }
      }
      double q_us = kNotRun;
      if (v.quant >= 0) {
        q_us = timing.median(v.quant);
        if (!timing.error(v.quant).empty()) add_note("quantize timing failed: " + timing.error(v.quant));
      }
      if (v.f.format != OutFormat::kBF16 && v.tile.is_auto()) {
        row.peers["quantize"] = q_us;
        row.peers[cub + "+quantize"] = cub_us + q_us;
      }
      const double pipeline_us = v.f.format == OutFormat::kBF16 ? cub_us : cub_us + q_us;
      if (std::isfinite(row.mxgemm_us)) {
        row.extra["tflops"] = 2.0 * s.M * s.N * s.K / row.mxgemm_us / 1e6;
        row.extra["gbps"] = v.bytes / row.mxgemm_us / 1e3;
        row.extra["floor_frac"] = v.floor_us / row.mxgemm_us;
        row.extra["speedup_vs_cublaslt"] = cub_us / row.mxgemm_us;
        if (std::isfinite(pipeline_us)) row.extra["speedup_vs_cublaslt_plus_quant"] = pipeline_us / row.mxgemm_us;
      }
      row.note = v.note;
      rows.push_back(row);
    }
    if (context_lost) return rows;
  }
  return rows;
}

}  // namespace mxgemm::bench
