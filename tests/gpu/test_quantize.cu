// GPU tests of the standalone quantizers (issue 4): bit-exact against mxgemm::reference::quantize for every format,
// rule, layout, input type and direction, on random inputs full of special values; every byte of the outputs
// (e4m3 data incl. row-pitch gaps, scales incl. blocked128x4 padding) is checked after poisoning with 0xAB.
// Skipped (GTEST_SKIP) without an SM90 GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/quantize_launch.h"
#include "mxgemm/format_rules.h"
#include "mxgemm/mxgemm.h"
#include "mxgemm/reference.h"
#include "ptx/cvt.cuh"

// gtest registers TESTs through members that nvcc reports as unused inside an anonymous namespace.
#pragma nv_diag_suppress 177

namespace {

using namespace mxgemm;

bool has_sm90() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    (void)cudaGetLastError();
    return false;
  }
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  return major == 9 && minor == 0;
}

#define SKIP_WITHOUT_SM90() \
  if (!has_sm90()) GTEST_SKIP() << "no SM90 GPU"

#define CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call << ": " << cudaGetErrorString(cudaGetLastError())

constexpr uint8_t kPoison = 0xAB;

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  double normal() {
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// A value whose group-neighbours share a magnitude (per 16 elements), with specials sprinkled in: NaN, +-Inf, +-0,
// FP32 subnormals, huge values, exact powers of two and 448/464-boundary multiples.
float special_or_random(Rng& rng, int block_exp) {
  const int pick = rng.range(0, 99);
  switch (pick) {
    case 0: return rules::bits_float(0x7fc00000u | static_cast<uint32_t>(rng.next() & 0x3fffff));  // NaN
    case 1: return rules::bits_float(0xffc00001u);                                                 // -NaN
    case 2: return INFINITY;
    case 3: return -INFINITY;
    case 4: return 0.0f;
    case 5: return -0.0f;
    case 6: return rules::bits_float(static_cast<uint32_t>(rng.next() & 0x807fffffu));  // subnormal
    case 7: return (rng.next() & 1 ? 1.f : -1.f) * rules::bits_float(0x7f000000u | (rng.next() & 0x7fffff));  // huge
    case 8: return std::ldexp(448.0f, rng.range(-20, 20));
    case 9: return std::ldexp(464.0f, rng.range(-20, 20));
    case 10: return std::ldexp(1.0f, rng.range(-149, 127));
    case 11: return rules::bits_float(rules::float_bits(std::ldexp(448.0f, rng.range(-20, 20))) + rng.range(-2, 2));
    default: break;
  }
  const double v = rng.normal() * std::ldexp(1.0, block_exp);
  return static_cast<float>(v);  // may overflow to Inf or underflow: both wanted
}

struct Input {
  std::vector<float> values;   // FP32 as the quantizer sees it [M, ldx] (bf16 inputs: exactly the bf16 value)
  std::vector<uint8_t> bytes;  // what goes to the device
};

Input make_input(int64_t M, int64_t N, int64_t ldx, InputType type, uint64_t seed) {
  Rng rng{seed};
  Input in;
  in.values.assign(static_cast<size_t>(M * ldx), 0.0f);
  const int64_t esize = type == InputType::kBF16 ? 2 : 4;
  in.bytes.assign(static_cast<size_t>(M * ldx * esize), 0);
  const int special_row = static_cast<int>(rng.next() % 7);
  for (int64_t r = 0; r < M; ++r) {
    int block_exp = 0;
    for (int64_t c = 0; c < ldx; ++c) {
      if (c % 16 == 0) {
        const int kind = rng.range(0, 9);
        block_exp = kind == 0 ? rng.range(-150, 128) : (kind == 1 ? rng.range(-40, 40) : rng.range(-6, 6));
      }
      float v = special_or_random(rng, block_exp);
      if (r % 7 == special_row && c < 256) {  // whole groups of one kind
        const int g = static_cast<int>(c / 32) % 4;
        v = g == 0 ? rules::bits_float(0x7fc00000u) : g == 1 ? 0.0f : g == 2 ? (c % 32 == 5 ? INFINITY : 1.0f) : v;
      }
      if (c >= N) v = 1e30f;  // stride gap: must never be read into a group
      const size_t i = static_cast<size_t>(r * ldx + c);
      if (type == InputType::kBF16) {
        const uint16_t b = rules::bf16_rn(v);
        in.values[i] = rules::bf16_to_float(b);
        std::memcpy(&in.bytes[i * 2], &b, 2);
      } else {
        in.values[i] = v;
        std::memcpy(&in.bytes[i * 4], &v, 4);
      }
    }
  }
  return in;
}

struct Case {
  OutFormat format;
  ScaleRule rule = ScaleRule::kRCEIL;
  ScaleLayout layout = ScaleLayout::kCompact;
};
std::string name(const Case& c) {
  std::string s = to_string(c.format);
  if (c.format == OutFormat::kMXFP8) s += std::string("/") + to_string(c.rule) + "/" + to_string(c.layout);
  return s;
}
const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = {
      {OutFormat::kMXFP8, ScaleRule::kRCEIL, ScaleLayout::kCompact},
      {OutFormat::kMXFP8, ScaleRule::kRCEIL, ScaleLayout::kBlocked128x4},
      {OutFormat::kMXFP8, ScaleRule::kFLOOR, ScaleLayout::kCompact},
      {OutFormat::kMXFP8, ScaleRule::kFLOOR, ScaleLayout::kBlocked128x4},
      {OutFormat::kG128FP32},
      {OutFormat::kG128UE8M0},
  };
  return cases;
}

int64_t scale_bytes(const Case& c, int64_t rows, int64_t cols) {
  return scale_elements(c.format, c.layout, rows, cols) * (c.format == OutFormat::kMXFP8 ? 1 : 4);
}

// A problem: the input and its reference output, computed once and compared against any number of GPU runs
// (tuning variants) — the CPU side (input generation, reference) dominates the test time.
struct Problem {
  Case c;
  InputType type;
  bool columnwise;
  int64_t M, N, ldx, ldq, rows, cols, data_bytes, sbytes;
  Input in;
  std::vector<float> src;  // the reference's input: x, or x^T for columnwise
  int64_t ld_src;
  std::vector<uint8_t> rq, rs;
};

Problem make_problem(const Case& c, InputType type, bool columnwise, int64_t M, int64_t N, int64_t ldx,
                     int64_t ldq_extra, uint64_t seed) {
  Problem pr{c, type, columnwise, M, N, ldx, 0, 0, 0, 0, 0, make_input(M, N, ldx, type, seed), {}, ldx, {}, {}};
  pr.rows = columnwise ? N : M;
  pr.cols = columnwise ? M : N;
  pr.ldq = pr.cols + ldq_extra;
  pr.data_bytes = pr.rows * pr.ldq;
  pr.sbytes = scale_bytes(c, pr.rows, pr.cols);
  // Reference on the FP32 values of x (columnwise: of x^T).
  if (columnwise) {
    pr.src.assign(static_cast<size_t>(N * M), 0.0f);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) pr.src[n * M + m] = pr.in.values[m * ldx + n];
    pr.ld_src = M;
  } else {
    pr.src = pr.in.values;
  }
  pr.rq.assign(pr.data_bytes, kPoison);
  pr.rs.assign(pr.sbytes, kPoison);
  OutputSpec spec;
  spec.format = c.format;
  spec.rule = c.rule;
  spec.layout = c.layout;
  spec.data = pr.rq.data();
  spec.ld = pr.ldq;
  spec.scales = pr.rs.data();
  reference::quantize(pr.src.data(), pr.rows, pr.cols, pr.ld_src, spec);
  return pr;
}

// One GPU run of a problem vs its reference, every byte. Returns "" when equal, else a description of the first
// mismatches.
std::string run_problem(const Problem& pr, const kernels::quant::Tuning* tuning = nullptr) {
  void *dx = nullptr, *dq = nullptr, *ds = nullptr;
  if (cudaMalloc(&dx, pr.in.bytes.size()) != cudaSuccess || cudaMalloc(&dq, pr.data_bytes) != cudaSuccess ||
      cudaMalloc(&ds, pr.sbytes) != cudaSuccess) {
    return "cudaMalloc failed";
  }
  cudaMemcpy(dx, pr.in.bytes.data(), pr.in.bytes.size(), cudaMemcpyHostToDevice);
  cudaMemset(dq, kPoison, pr.data_bytes);
  cudaMemset(ds, kPoison, pr.sbytes);

  QuantizeArgs a;
  a.M = pr.M;
  a.N = pr.N;
  a.x = dx;
  a.type = pr.type;
  a.ldx = pr.ldx == pr.N ? 0 : pr.ldx;
  a.columnwise = pr.columnwise;
  a.out.format = pr.c.format;
  a.out.rule = pr.c.rule;
  a.out.layout = pr.c.layout;
  a.out.data = dq;
  a.out.ld = pr.ldq != pr.cols ? pr.ldq : 0;
  a.out.scales = ds;
  std::string err;
  try {
    if (tuning) detail::quantize_tuned(a, *tuning, nullptr);
    else quantize(a, nullptr);
  } catch (const std::exception& e) {
    err = std::string("quantize threw: ") + e.what();
  }
  const cudaError_t ce = cudaDeviceSynchronize();
  if (ce != cudaSuccess) err = std::string("CUDA error: ") + cudaGetErrorString(ce);
  std::vector<uint8_t> gq(pr.data_bytes), gs(pr.sbytes);
  cudaMemcpy(gq.data(), dq, pr.data_bytes, cudaMemcpyDeviceToHost);
  cudaMemcpy(gs.data(), ds, pr.sbytes, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dq);
  cudaFree(ds);
  if (!err.empty()) return err;

  std::string msg;
  int shown = 0;
  int64_t bad_q = 0, bad_s = 0;
  for (int64_t i = 0; i < pr.data_bytes; ++i) {
    if (gq[i] != pr.rq[i]) {
      ++bad_q;
      if (shown < 6) {
        char b[200];
        const int64_t r = i / pr.ldq, cc = i % pr.ldq;
        const float xv = cc < pr.cols ? pr.src[r * pr.ld_src + cc] : NAN;
        std::snprintf(b, sizeof b, "  data[%lld,%lld] gpu=0x%02x ref=0x%02x x=%a\n", (long long)r, (long long)cc, gq[i],
                      pr.rq[i], xv);
        msg += b;
        ++shown;
      }
    }
  }
  for (int64_t i = 0; i < pr.sbytes; ++i) {
    if (gs[i] != pr.rs[i]) {
      ++bad_s;
      if (shown < 12) {
        char b[160];
        std::snprintf(b, sizeof b, "  scale byte %lld gpu=0x%02x ref=0x%02x\n", (long long)i, gs[i], pr.rs[i]);
        msg += b;
        ++shown;
      }
    }
  }
  if (bad_q == 0 && bad_s == 0) return "";
  return std::to_string(bad_q) + " data bytes and " + std::to_string(bad_s) + " scale bytes differ:\n" + msg;
}

std::string run_and_compare(const Case& c, InputType type, bool columnwise, int64_t M, int64_t N, int64_t ldx,
                            int64_t ldq_extra, uint64_t seed, const kernels::quant::Tuning* tuning = nullptr) {
  return run_problem(make_problem(c, type, columnwise, M, N, ldx, ldq_extra, seed), tuning);
}

std::string label(const Case& c, InputType t, bool colw, int64_t M, int64_t N, int64_t ldx, int64_t lq) {
  return name(c) + (t == InputType::kBF16 ? " bf16" : " fp32") + (colw ? " columnwise" : " rowwise") +
         " M=" + std::to_string(M) + " N=" + std::to_string(N) + " ldx=" + std::to_string(ldx) +
         " ld_out_extra=" + std::to_string(lq);
}

int64_t pad_to(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

// ---------------------------------------------------------------------------------------------------------------

TEST(QuantizeGpu, RowwiseAllFormatsBitExact) {
  SKIP_WITHOUT_SM90();
  uint64_t seed = 1;
  for (const Case& c : all_cases()) {
    const std::vector<int64_t> ns = c.format == OutFormat::kMXFP8 ? std::vector<int64_t>{32, 96, 160, 2112}
                                                                  : std::vector<int64_t>{48, 144, 528, 160, 2112};
    for (InputType t : {InputType::kBF16, InputType::kFP32}) {
      const int64_t va = t == InputType::kBF16 ? 8 : 4;
      for (int64_t M : {1, 17, 129}) {
        for (int64_t N : ns) {
          for (int strided = 0; strided < 2; ++strided) {
            const int64_t ldx = strided ? pad_to(N, va) + 3 * va : N;
            const int64_t lq = strided ? 48 : 0;
            const std::string r = run_and_compare(c, t, false, M, N, ldx, lq, seed++);
            EXPECT_TRUE(r.empty()) << label(c, t, false, M, N, ldx, lq) << ": " << r;
          }
        }
      }
    }
  }
}

TEST(QuantizeGpu, ColumnwiseAllFormatsBitExact) {
  SKIP_WITHOUT_SM90();
  uint64_t seed = 1000;
  for (const Case& c : all_cases()) {
    // Output [N, M]: groups along M, so M follows the output-column rules (mxfp8: 32 | M; g128: 16 | M).
    const std::vector<int64_t> ms = c.format == OutFormat::kMXFP8 ? std::vector<int64_t>{32, 96, 160, 2112}
                                                                  : std::vector<int64_t>{48, 144, 528, 160, 2112};
    for (InputType t : {InputType::kBF16, InputType::kFP32}) {
      const int64_t va = t == InputType::kBF16 ? 8 : 4;
      for (int64_t M : ms) {
        for (int64_t N : {1, 17, 129, 200}) {
          for (int strided = 0; strided < 2; ++strided) {
            // Dense input needs 16-byte rows: N odd only with a padded ldx.
            const bool dense_ok = (N % va) == 0;
            const int64_t ldx = (strided || !dense_ok) ? pad_to(N, va) + 2 * va : N;
            const int64_t lq = strided ? 32 : 0;
            const std::string r = run_and_compare(c, t, true, M, N, ldx, lq, seed++);
            EXPECT_TRUE(r.empty()) << label(c, t, true, M, N, ldx, lq) << ": " << r;
          }
        }
      }
    }
  }
}

std::string tuning_name(const kernels::quant::Tuning& tu) {
  return " unroll=" + std::to_string(tu.unroll) + " waves=" + std::to_string(tu.waves) +
         " stages=" + std::to_string(tu.stages) + " raster=" + std::to_string(tu.raster) +
         " tile=" + std::to_string(tu.tile) + " kernel=" + std::to_string(tu.kernel) +
         " l2promo=" + std::to_string(tu.l2promo) + " evict=" + std::to_string(tu.evict) +
         " scale_hint=" + std::to_string(tu.scale_hint) + " load_hint=" + std::to_string(tu.load_hint);
}

// Columnwise BF16 kernel variants, {unroll, waves, stages, raster, tile, kernel, l2promo, evict}: kernel 1 = TMA (the
// default; waves 0 = `stages` tiles per block, > 0 persistent ring), 2 = cp.async staged (always persistent), 3 = TMA
// loads + TMA stores of the e4m3 tile; tile 1 = 128x64, 2 = 128x128, 3 = 256x64, 4 = 256x128 (M x N); raster 3 / 5
// leave a partial last group; l2promo: the input tensor map's L2 promotion; evict 1: evict-first data stores;
// scale_hint 1: scale stores without the evict-last policy; load_hint 1: evict-first input loads.
const std::vector<kernels::quant::Tuning>& colwise_bf16_variants() {
  static const std::vector<kernels::quant::Tuning> v = {
      {2, 0, 1, 0, 1, 1}, {2, 0, 2, 0, 1, 1}, {2, 1, 1, 0, 1, 1}, {2, 1, 2, 0, 2, 1}, {2, 2, 3, 3, 3, 1},
      {2, 0, 1, 0, 4, 1}, {2, 1, 4, 1, 1, 1}, {2, 0, 3, 5, 2, 1}, {2, 1, 4, 0, 4, 1}, {2, 0, 4, 0, 3, 1},
      {2, 0, 1, 0, 1, 1, 1}, {2, 0, 1, 0, 2, 1, 3}, {2, 0, 1, 0, 1, 1, 0, 1}, {2, 0, 1, 1, 1, 3, 0, 1},
      {2, 0, 1, 0, 1, 3}, {2, 1, 2, 0, 2, 3}, {2, 0, 1, 3, 4, 3}, {2, 2, 3, 0, 3, 3},
      {2, 1, 2, 0, 1, 2}, {2, 1, 2, 0, 2, 2}, {2, 1, 3, 3, 2, 2}, {2, 1, 2, 0, 3, 2}, {2, 2, 3, 1, 3, 2},
      {2, 1, 2, 0, 4, 2}, {2, 1, 3, 3, 4, 2},
      {2, 0, 1, 0, 1, 3, 0, 0, 1}, {2, 0, 1, 0, 1, 3, 0, 1, 0, 1}, {2, 1, 2, 0, 2, 1, 0, 0, 1, 1}};
  return v;
}

// Shapes that make every warp / block loop more than once (persistent grid), and every tuning variant. Each
// problem's input and reference are made once and compared against every variant.
TEST(QuantizeGpu, LargeShapesAndTuningVariantsBitExact) {
  SKIP_WITHOUT_SM90();
  uint64_t seed = 5000;
  // {unroll, waves, stages, raster(, tile, kernel)}: stages picks the columnwise BF16 ring depth (-1: the
  // register-staged kernel); raster the columnwise tile order (n-tiles per group; 3 leaves a partial last group).
  const std::vector<kernels::quant::Tuning> tunings = {{2, 1, 0, 0}, {1, 1, 2, 1}, {4, 1, 3, 3},
                                                       {2, 0, -1, 0}, {4, 2, 4, 8}, {1, 0, 2, 3}};
  for (const Case& c : {all_cases()[0], all_cases()[3], all_cases()[4]}) {
    for (InputType t : {InputType::kBF16, InputType::kFP32}) {
      for (bool colw : {false, true}) {
        const Problem pr = make_problem(c, t, colw, 1152, 7168, 7168, 0, seed++);
        for (const auto& tu : tunings) {
          const std::string r = run_problem(pr, &tu);
          EXPECT_TRUE(r.empty()) << label(c, t, colw, 1152, 7168, 7168, 0) << tuning_name(tu) << ": " << r;
        }
        if (colw && t == InputType::kBF16) {
          for (const auto& tu : colwise_bf16_variants()) {
            const std::string r = run_problem(pr, &tu);
            EXPECT_TRUE(r.empty()) << label(c, t, colw, 1152, 7168, 7168, 0) << tuning_name(tu) << ": " << r;
          }
        }
      }
    }
  }
  // Every format, partial tiles on both sides (M = 160: 32 | M and 16 | M as the columnwise groups require, not a
  // multiple of 128 / 256; N = 968: not a multiple of 64 / 128), dense and with row pitches (input ldx = N + 24:
  // 16-byte rows, the gap holds 1e30 that must never be read; output ld + 32); and M = 4160 (32.5 x 128), N = 200.
  for (const Case& c : all_cases()) {
    for (auto [M, N, ldx, lq] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{160, 968, 968, 0},
                                 {160, 968, 992, 32}, {4160, 200, 200, 0}, {4160, 200, 232, 32}}) {
      const Problem pr = make_problem(c, InputType::kBF16, true, M, N, ldx, lq, seed++);
      const std::string d = run_problem(pr);
      EXPECT_TRUE(d.empty()) << label(c, InputType::kBF16, true, M, N, ldx, lq) << " default: " << d;
      for (const auto& tu : colwise_bf16_variants()) {
        const std::string r = run_problem(pr, &tu);
        EXPECT_TRUE(r.empty()) << label(c, InputType::kBF16, true, M, N, ldx, lq) << tuning_name(tu) << ": " << r;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// cvt.rn.satfinite.e4m3x2 on the device == rules::e4m3_satfinite, for every one of the 2^32 FP32 bit patterns
// (the rule evaluated on the device), and for a list of interesting values against the rule evaluated on the host.

__global__ void cvt_all_floats_kernel(unsigned long long* mismatches, uint32_t* first_bad) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x * 4;
  unsigned long long bad = 0;
  for (uint64_t base = (static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 4; base < (1ull << 32);
       base += stride) {
    float v[4];
    for (int i = 0; i < 4; ++i) v[i] = __uint_as_float(static_cast<uint32_t>(base + i));
    const uint32_t packed = ptx::cvt_e4m3x4_satfinite(v[0], v[1], v[2], v[3]);
    for (int i = 0; i < 4; ++i) {
      if (((packed >> (8 * i)) & 0xffu) != rules::e4m3_satfinite(v[i])) {
        ++bad;
        atomicMin(first_bad, static_cast<uint32_t>(base + i));
      }
    }
  }
  if (bad) atomicAdd(mismatches, bad);
}

__global__ void cvt_list_kernel(const float* x, uint8_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i * 4 < n) {
    const uint32_t p = ptx::cvt_e4m3x4_satfinite(x[4 * i], x[4 * i + 1], x[4 * i + 2], x[4 * i + 3]);
    for (int k = 0; k < 4; ++k) out[4 * i + k] = static_cast<uint8_t>(p >> (8 * k));
  }
}

TEST(QuantizeGpu, CvtE4m3EqualsRuleForAllFloats) {
  SKIP_WITHOUT_SM90();
  unsigned long long* d_count = nullptr;
  uint32_t* d_first = nullptr;
  CUDA_OK(cudaMalloc(&d_count, sizeof(unsigned long long)));
  CUDA_OK(cudaMalloc(&d_first, sizeof(uint32_t)));
  CUDA_OK(cudaMemset(d_count, 0, sizeof(unsigned long long)));
  CUDA_OK(cudaMemset(d_first, 0xff, sizeof(uint32_t)));
  cvt_all_floats_kernel<<<132 * 8, 256>>>(d_count, d_first);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaDeviceSynchronize());
  unsigned long long count = 0;
  uint32_t first = 0;
  CUDA_OK(cudaMemcpy(&count, d_count, sizeof count, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(&first, d_first, sizeof first, cudaMemcpyDeviceToHost));
  cudaFree(d_count);
  cudaFree(d_first);
  EXPECT_EQ(count, 0ull) << "first mismatching FP32 bits 0x" << std::hex << first;

  // Host rule vs device instruction on interesting values: e4m3 boundaries and midpoints at every exponent,
  // saturation edges, subnormals of both formats, specials.
  std::vector<float> xs;
  for (int e = -12; e <= 9; ++e) {
    for (int m = 0; m < 16; ++m) {
      const float base = std::ldexp(1.0f + m / 16.0f, e);  // e4m3 values and their midpoints (m odd)
      for (int d = -2; d <= 2; ++d) {
        const float v = rules::bits_float(rules::float_bits(base) + d);
        xs.push_back(v);
        xs.push_back(-v);
      }
    }
  }
  for (float v : {0.0f, -0.0f, 448.0f, 464.0f, 463.99997f, 464.00003f, 480.0f, 3.4e38f, INFINITY, -INFINITY, NAN,
                  -NAN, 1e-45f, 1.1754942e-38f, 0x1p-9f, 0x1p-10f, 0x1.0p-10f * 1.0000001f, 0x1.8p-10f}) {
    xs.push_back(v);
    xs.push_back(-v);
  }
  while (xs.size() % 4) xs.push_back(0.0f);
  const int n = static_cast<int>(xs.size());
  float* dx = nullptr;
  uint8_t* dout = nullptr;
  CUDA_OK(cudaMalloc(&dx, n * sizeof(float)));
  CUDA_OK(cudaMalloc(&dout, n));
  CUDA_OK(cudaMemcpy(dx, xs.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  cvt_list_kernel<<<(n / 4 + 127) / 128, 128>>>(dx, dout, n);
  CUDA_OK(cudaGetLastError());
  std::vector<uint8_t> out(n);
  CUDA_OK(cudaMemcpy(out.data(), dout, n, cudaMemcpyDeviceToHost));
  cudaFree(dx);
  cudaFree(dout);
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    if (out[i] != rules::e4m3_satfinite(xs[i]) && bad++ < 10) {
      ADD_FAILURE() << "x=" << std::hexfloat << xs[i] << " device=0x" << std::hex << int(out[i]) << " host rule=0x"
                    << int(rules::e4m3_satfinite(xs[i]));
    }
  }
  EXPECT_EQ(bad, 0);
}

// ---------------------------------------------------------------------------------------------------------------

TEST(QuantizeGpu, TransformSfaToMnMajor) {
  SKIP_WITHOUT_SM90();
  Rng rng{77};
  for (int64_t M : {1, 17, 129, 4099}) {
    for (int64_t kb : {1, 16, 33, 56}) {
      const int64_t ld_src = kb + (kb % 3);
      std::vector<float> src(static_cast<size_t>(M * ld_src));
      for (auto& v : src) v = static_cast<float>(std::ldexp(1.0 + rng.uniform(), rng.range(-20, 20)));
      const int64_t ldm = mn_major_ld(M);
      const size_t dst_n = static_cast<size_t>(kb * ldm);
      float *ds = nullptr, *dd = nullptr;
      CUDA_OK(cudaMalloc(&ds, src.size() * 4));
      CUDA_OK(cudaMalloc(&dd, dst_n * 4));
      CUDA_OK(cudaMemcpy(ds, src.data(), src.size() * 4, cudaMemcpyHostToDevice));
      CUDA_OK(cudaMemset(dd, kPoison, dst_n * 4));
      transform_sfa_to_mn_major(ds, M, kb, ld_src, dd, nullptr);
      CUDA_OK(cudaDeviceSynchronize());
      std::vector<float> got(dst_n);
      CUDA_OK(cudaMemcpy(got.data(), dd, dst_n * 4, cudaMemcpyDeviceToHost));
      cudaFree(ds);
      cudaFree(dd);
      const std::vector<float> ref = reference::sfa_to_mn_major(src.data(), M, kb, ld_src);
      ASSERT_EQ(ref.size(), dst_n);
      EXPECT_EQ(std::memcmp(got.data(), ref.data(), dst_n * 4), 0) << "M=" << M << " kblocks=" << kb;
    }
  }
}

// Bad arguments: rejected with mxgemm::Error before anything is launched; the poisoned outputs stay untouched.
TEST(QuantizeGpu, BadArgumentsRejectedNothingWritten) {
  SKIP_WITHOUT_SM90();
  const int64_t M = 64, N = 256;
  void *dx = nullptr, *dq = nullptr, *ds = nullptr;
  CUDA_OK(cudaMalloc(&dx, M * N * 4));
  CUDA_OK(cudaMalloc(&dq, M * N));
  CUDA_OK(cudaMalloc(&ds, M * N));
  CUDA_OK(cudaMemset(dx, 0x3c, M * N * 4));
  CUDA_OK(cudaMemset(dq, kPoison, M * N));
  CUDA_OK(cudaMemset(ds, kPoison, M * N));
  QuantizeArgs good;
  good.M = M;
  good.N = N;
  good.x = dx;
  good.out.format = OutFormat::kMXFP8;
  good.out.data = dq;
  good.out.scales = ds;
  std::vector<std::pair<std::string, QuantizeArgs>> bad;
  auto add = [&](const char* what, auto mutate) {
    QuantizeArgs a = good;
    mutate(a);
    bad.push_back({what, a});
  };
  add("x null", [](QuantizeArgs& a) { a.x = nullptr; });
  add("x misaligned", [&](QuantizeArgs& a) { a.x = static_cast<char*>(dx) + 2; });
  add("M=0", [](QuantizeArgs& a) { a.M = 0; });
  add("N<0", [](QuantizeArgs& a) { a.N = -32; });
  add("ldx<N", [](QuantizeArgs& a) { a.ldx = 128; });
  add("bf16 out", [](QuantizeArgs& a) { a.out.format = OutFormat::kBF16; });
  add("scales null", [](QuantizeArgs& a) { a.out.scales = nullptr; });
  add("data null", [](QuantizeArgs& a) { a.out.data = nullptr; });
  add("mxfp8 N=48", [](QuantizeArgs& a) { a.N = 48; });
  add("colwise mxfp8 M=48", [](QuantizeArgs& a) { a.columnwise = true; a.M = 48; });
  add("out.ld<cols", [](QuantizeArgs& a) { a.out.ld = 128; });
  add("g128 rule floor", [](QuantizeArgs& a) { a.out.format = OutFormat::kG128FP32; a.out.rule = ScaleRule::kFLOOR; });
  add("type 7", [](QuantizeArgs& a) { a.type = static_cast<InputType>(7); });
  for (const auto& [what, a] : bad) {
    try {
      quantize(a, nullptr);
      ADD_FAILURE() << what << ": not rejected";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": threw a non-mxgemm exception: " << e.what();
    }
  }
  EXPECT_THROW(transform_sfa_to_mn_major(nullptr, 16, 4, 4, static_cast<float*>(ds), nullptr), Error);
  EXPECT_THROW(transform_sfa_to_mn_major(static_cast<float*>(dx), 16, 4, 2, static_cast<float*>(ds), nullptr), Error);
  EXPECT_THROW(transform_sfa_to_mn_major(static_cast<float*>(dx), 0, 4, 4, static_cast<float*>(ds), nullptr), Error);
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<uint8_t> q(M * N), s(M * N);
  CUDA_OK(cudaMemcpy(q.data(), dq, M * N, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(s.data(), ds, M * N, cudaMemcpyDeviceToHost));
  int64_t touched = 0;
  for (int64_t i = 0; i < M * N; ++i) touched += (q[i] != kPoison) + (s[i] != kPoison);
  EXPECT_EQ(touched, 0) << "bytes written by rejected calls";
  cudaFree(dx);
  cudaFree(dq);
  cudaFree(ds);
}

}  // namespace
