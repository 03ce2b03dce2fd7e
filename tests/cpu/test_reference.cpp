// The CPU reference (include/mxgemm/reference.h): GEMMs against an independent naive FP64 loop, quantizers
// against hand-made rows, grouped variants against the dense reference on slices.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "mxgemm/format_rules.h"
#include "mxgemm/reference.h"

namespace mxgemm {
namespace {

constexpr uint8_t kE4m3One = 0x38, kE4m3Two = 0x40, kE4m3MinusOne = 0xB8, kE4m3MinusTwo = 0xC0;
constexpr uint8_t kE4m3Half = 0x30;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Independent e4m3 decoder (not format_rules.h): sign, 4-bit exponent (bias 7), 3-bit mantissa.
double decode_e4m3(uint8_t v) {
  const int e = (v >> 3) & 15, m = v & 7;
  if (e == 15 && m == 7) return std::numeric_limits<double>::quiet_NaN();
  const double mag = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
  return (v & 0x80) ? -mag : mag;
}

// A dense GEMM problem with strides, filled with exact small integers in {-2..2} and power-of-two scales, so that
// every FP64 result is exact and both implementations must agree bit for bit.
struct Problem {
  int64_t M, N, K, lda, ldb, ldsfa;
  std::vector<uint8_t> a, b;
  std::vector<float> sfa, sfb;

  Problem(int64_t M_, int64_t N_, int64_t K_, int64_t lda_pad, int64_t ldb_pad, int64_t ldsfa_pad, uint32_t seed)
      : M(M_), N(N_), K(K_), lda(K_ + lda_pad), ldb(K_ + ldb_pad), ldsfa(mn_major_ld(M_) + ldsfa_pad) {
    std::mt19937 rng(seed);
    const uint8_t values[5] = {kE4m3MinusTwo, kE4m3MinusOne, 0x00, kE4m3One, kE4m3Two};
    std::uniform_int_distribution<int> pick(0, 4), exponent(-6, 6);
    a.assign(M * lda, 0xAA);  // stride padding holds garbage that must not be read
    b.assign(N * ldb, 0xAA);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) a[m * lda + k] = values[pick(rng)];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) b[n * ldb + k] = values[pick(rng)];
    const int64_t kb = ceil_div(K, 128);
    sfa.assign(kb * ldsfa, std::numeric_limits<float>::quiet_NaN());  // padding rows must not be read
    for (int64_t k = 0; k < kb; ++k)
      for (int64_t m = 0; m < M; ++m) sfa[k * ldsfa + m] = std::ldexp(1.0f, exponent(rng));
    sfb.resize(ceil_div(N, 128) * kb);
    for (auto& s : sfb) s = std::ldexp(1.0f, exponent(rng));
  }

  // The naive loop: FP64 over dequantized elements, k innermost, no blocking tricks.
  std::vector<double> naive() const {
    const int64_t kb = ceil_div(K, 128);
    std::vector<double> d(M * N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double x = decode_e4m3(a[m * lda + k]) * sfa[(k / 128) * ldsfa + m];
          const double y = decode_e4m3(b[n * ldb + k]) * sfb[(n / 128) * kb + k / 128];
          acc += x * y;
        }
        d[m * N + n] = acc;
      }
    return d;
  }

  std::vector<double> reference() const {
    return reference::gemm_nt(M, N, K, a.data(), lda, sfa.data(), ldsfa, b.data(), ldb, sfb.data());
  }
};

class GemmExact : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(GemmExact, MatchesNaiveLoopBitForBit) {
  const auto [M, N, K] = GetParam();
  const Problem p(M, N, K, 16, 32, 4, static_cast<uint32_t>(M * 131 + N * 7 + K));
  const std::vector<double> got = p.reference(), want = p.naive();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
}

// K = 16 (one partial block), 112 (partial), 144 (one full + one partial), 2064 (16 full + partial); N crossing
// 128-row SFB blocks; M not a multiple of 4 (SFA padding rows).
INSTANTIATE_TEST_SUITE_P(Shapes, GemmExact,
                         ::testing::Values(std::make_tuple(5, 7, 16), std::make_tuple(3, 130, 112),
                                           std::make_tuple(9, 140, 144), std::make_tuple(4, 3, 2064),
                                           std::make_tuple(33, 257, 256), std::make_tuple(1, 1, 128)));

TEST(Gemm, DefaultStridesAndHandComputedValue) {
  // M=N=1, K=130: block 0 = 128 * (1*2) * 0.5 * 2 = 256; block 1 = 2 * (1*2) * 4 * 0.25 = 4.
  std::vector<uint8_t> a(130, kE4m3One), b(130, kE4m3Two);
  const std::vector<float> sfa = {0.5f, 0, 0, 0, 4.0f, 0, 0, 0};  // [2 k-blocks] x [pad(1,4)]
  const std::vector<float> sfb = {2.0f, 0.25f};
  const auto d = reference::gemm_nt(1, 1, 130, a.data(), 0, sfa.data(), 0, b.data(), 0, sfb.data());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], 260.0);
}

TEST(Gemm, ArbitraryScalesAndValuesCloseToNaive) {
  const int64_t M = 6, N = 131, K = 272;
  Problem p(M, N, K, 0, 0, 0, 99);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> code(0, 255);
  std::uniform_real_distribution<float> scale(0.01f, 3.0f);
  for (auto* operand : {&p.a, &p.b}) {
    for (auto& v : *operand) {
      v = static_cast<uint8_t>(code(rng));
      if ((v & 0x7F) == 0x7F) v = 0;  // no NaN codes
    }
  }
  for (int64_t k = 0; k < ceil_div(K, 128); ++k)
    for (int64_t m = 0; m < M; ++m) p.sfa[k * p.ldsfa + m] = scale(rng);
  for (auto& s : p.sfb) s = scale(rng);
  const auto got = p.reference(), want = p.naive();
  // Both round differently (per block vs per element): allow a few ulps of the sum of |terms| (cancellation).
  Problem magnitudes = p;
  for (auto* operand : {&magnitudes.a, &magnitudes.b})
    for (auto& v : *operand) v &= 0x7F;
  const auto abs_sum = magnitudes.naive();
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-14 * abs_sum[i]) << "element " << i;
  }
}

TEST(Gemm, NaNInputPropagates) {
  Problem p(2, 2, 32, 0, 0, 0, 3);
  p.a[0] = 0x7F;  // row 0 holds a NaN
  const auto d = p.reference();
  EXPECT_TRUE(std::isnan(d[0]));
  EXPECT_TRUE(std::isnan(d[1]));
  EXPECT_FALSE(std::isnan(d[2]));
}

// ---- grouped ---------------------------------------------------------------------------------------------------
TEST(GroupedContiguous, MatchesDenseGemmPerGroupAndZeroesPadding) {
  const int64_t G = 2, M = 512, N = 40, K = 160, kb = ceil_div(K, 128);
  const Problem a_side(M, 1, K, 0, 0, 0, 11);               // A [M, K] and SFA over M rows
  std::vector<Problem> groups = {Problem(1, N, K, 0, 0, 0, 12), Problem(1, N, K, 0, 0, 0, 13)};
  std::vector<uint8_t> b;
  std::vector<float> sfb;
  for (const auto& g : groups) {
    b.insert(b.end(), g.b.begin(), g.b.end());
    sfb.insert(sfb.end(), g.sfb.begin(), g.sfb.end());
  }
  // rows 0-127 group 1, 128-255 padding, 256-383 group 0, 384-511 an out-of-range group (treated as padding).
  std::vector<int32_t> layout(M);
  for (int64_t m = 0; m < M; ++m) layout[m] = m < 128 ? 1 : m < 256 ? -1 : m < 384 ? 0 : 7;
  const auto d = reference::grouped_contiguous_gemm_nt(G, M, N, K, a_side.a.data(), a_side.sfa.data(), 0, b.data(),
                                                       sfb.data(), layout.data());
  ASSERT_EQ(d.size(), static_cast<size_t>(M * N));
  const auto dense_g1 = reference::gemm_nt(M, N, K, a_side.a.data(), 0, a_side.sfa.data(), 0,
                                           groups[1].b.data(), 0, groups[1].sfb.data());
  const auto dense_g0 = reference::gemm_nt(M, N, K, a_side.a.data(), 0, a_side.sfa.data(), 0,
                                           groups[0].b.data(), 0, groups[0].sfb.data());
  (void)kb;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const double want = layout[m] == 1 ? dense_g1[m * N + n] : layout[m] == 0 ? dense_g0[m * N + n] : 0.0;
      ASSERT_EQ(d[m * N + n], want) << "m=" << m << " n=" << n;
    }
}

TEST(GroupedMasked, MatchesDenseGemmPerGroupAndLeavesMaskedRowsNaN) {
  const int64_t G = 3, max_m = 6, N = 20, K = 144, kb = ceil_div(K, 128), ldsfa = mn_major_ld(max_m);
  std::vector<Problem> groups;
  for (int g = 0; g < G; ++g) groups.emplace_back(max_m, N, K, 0, 0, 0, 20 + g);
  std::vector<uint8_t> a, b;
  std::vector<float> sfa, sfb;
  for (const auto& p : groups) {
    ASSERT_EQ(p.ldsfa, ldsfa);
    a.insert(a.end(), p.a.begin(), p.a.end());
    b.insert(b.end(), p.b.begin(), p.b.end());
    sfa.insert(sfa.end(), p.sfa.begin(), p.sfa.end());
    sfb.insert(sfb.end(), p.sfb.begin(), p.sfb.end());
  }
  ASSERT_EQ(sfa.size(), static_cast<size_t>(G * kb * ldsfa));
  const std::vector<int32_t> masked_m = {6, 0, 2};
  const auto d = reference::grouped_masked_gemm_nt(G, max_m, N, K, a.data(), sfa.data(), b.data(), sfb.data(),
                                                   masked_m.data());
  ASSERT_EQ(d.size(), static_cast<size_t>(G * max_m * N));
  for (int64_t g = 0; g < G; ++g) {
    const auto dense = groups[g].naive();
    for (int64_t m = 0; m < max_m; ++m)
      for (int64_t n = 0; n < N; ++n) {
        const double got = d[(g * max_m + m) * N + n];
        if (m < masked_m[g]) {
          ASSERT_EQ(got, dense[m * N + n]) << g << "," << m << "," << n;
        } else {
          ASSERT_TRUE(std::isnan(got)) << g << "," << m << "," << n;
        }
      }
  }
}

// ---- quantizers ------------------------------------------------------------------------------------------------
OutputSpec spec(OutFormat format, void* data, void* scales, ScaleRule rule = ScaleRule::kRCEIL,
                ScaleLayout layout = ScaleLayout::kCompact) {
  OutputSpec out;
  out.format = format;
  out.rule = rule;
  out.layout = layout;
  out.data = data;
  out.scales = scales;
  return out;
}

TEST(QuantizeMxfp8, RceilAndFloorOnHandMadeRow) {
  // Group 0: one 500, the rest 1.0. RCEIL: s = 500/448 -> byte 128 (x0.5): 500 -> 250 -> 0x78, 1 -> 0.5 = 0x30.
  // FLOOR: exponent(500) = 8 -> byte 127 (x1): 500 saturates to 0x7E, 1 -> 0x38.
  std::vector<float> x(32, 1.0f);
  x[3] = 500.0f;
  std::vector<uint8_t> q(32), s(1);
  reference::quantize(x.data(), 1, 32, 0, spec(OutFormat::kMXFP8, q.data(), s.data()));
  EXPECT_EQ(s[0], 128);
  EXPECT_EQ(q[3], 0x78);
  EXPECT_EQ(q[0], kE4m3Half);
  EXPECT_EQ(q[31], kE4m3Half);
  reference::quantize(x.data(), 1, 32, 0, spec(OutFormat::kMXFP8, q.data(), s.data(), ScaleRule::kFLOOR));
  EXPECT_EQ(s[0], 127);
  EXPECT_EQ(q[3], 0x7E);
  EXPECT_EQ(q[0], kE4m3One);
}

TEST(QuantizeMxfp8, NaNInfZeroGroupsAndPartialLastGroupWithStrides) {
  // 2 rows x 40 columns (groups of 32 and 8), ldx = 48, out.ld = 64.
  const int64_t rows = 2, cols = 40, ldx = 48, ld = 64;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(rows * ldx, 0.0f);
  // row 0, group 0: NaN and 2.0 -> amax 2 -> byte 120 (x128): 2 -> 256 = 0x78, NaN -> 0x7F, 0 -> 0x00.
  x[0] = nan;
  x[1] = 2.0f;
  // row 0, group 1 (8 elements): all NaN -> amax 0 -> byte 0, all 0x7F.
  for (int c = 32; c < 40; ++c) x[c] = nan;
  // row 1, group 0: +Inf and 3.0 -> RCEIL byte 0xFE (x2^-127): Inf -> 0x7E, 3 -> 0x00. group 1: all zero.
  x[ldx + 5] = inf;
  x[ldx + 6] = -3.0f;
  std::vector<uint8_t> q(rows * ld, 0xCD), s(rows * 2, 0xCD);
  reference::quantize(x.data(), rows, cols, ldx, [&] {
    auto o = spec(OutFormat::kMXFP8, q.data(), s.data());
    o.ld = ld;
    return o;
  }());
  EXPECT_EQ(s[0], 120);
  EXPECT_EQ(q[0], 0x7F);
  EXPECT_EQ(q[1], 0x78);
  EXPECT_EQ(q[2], 0x00);
  EXPECT_EQ(s[1], 0x00);
  for (int c = 32; c < 40; ++c) EXPECT_EQ(q[c], 0x7F);
  EXPECT_EQ(q[40], 0xCD);  // beyond cols: untouched
  EXPECT_EQ(s[2], 0xFE);
  EXPECT_EQ(q[ld + 5], 0x7E);
  EXPECT_EQ(q[ld + 6], 0x80);  // -3 * 2^-127 rounds to -0
  EXPECT_EQ(q[ld + 7], 0x00);
  EXPECT_EQ(s[3], 0x00);
  for (int c = 32; c < 40; ++c) EXPECT_EQ(q[ld + c], 0x00);

  // FLOOR on row 1: amax Inf -> 0xFF, a NaN scale: every element of the group is 0x7F.
  reference::quantize(x.data(), rows, cols, ldx, [&] {
    auto o = spec(OutFormat::kMXFP8, q.data(), s.data(), ScaleRule::kFLOOR);
    o.ld = ld;
    return o;
  }());
  EXPECT_EQ(s[2], 0xFF);
  for (int c = 0; c < 32; ++c) EXPECT_EQ(q[ld + c], 0x7F);
  EXPECT_EQ(s[3], 0x00);
}

TEST(QuantizeMxfp8, Blocked128x4LayoutZeroesPadding) {
  const int64_t rows = 131, cols = 9 * 32, scale_cols = 9;
  std::vector<float> x(rows * cols, 0.0f);
  x[130 * cols + 5 * 32 + 7] = 896.0f;  // row 130, group 5: s = 2 -> byte 128
  x[0] = 1.0f;                          // row 0, group 0: byte 119
  std::vector<uint8_t> q(rows * cols), s(scale_elements(OutFormat::kMXFP8, ScaleLayout::kBlocked128x4, rows, cols),
                                             0xAA);
  ASSERT_EQ(s.size(), 256u * 12u);
  reference::quantize(x.data(), rows, cols, 0,
                      spec(OutFormat::kMXFP8, q.data(), s.data(), ScaleRule::kRCEIL, ScaleLayout::kBlocked128x4));
  EXPECT_EQ(s[2081], 128);  // blocked128x4_offset(130, 5, 9), worked by hand in test_format_rules
  EXPECT_EQ(s[0], 119);
  EXPECT_EQ(q[130 * cols + 5 * 32 + 7], 0x7E);
  int nonzero = 0;
  for (uint8_t byte : s) nonzero += byte != 0;
  EXPECT_EQ(nonzero, 2);  // every other byte, padding included, is 0 (amax 0 gives byte 0 too)
  (void)scale_cols;
}

TEST(QuantizeG128, Fp32ScalesMnMajorAndPartialGroup) {
  // 3 rows x 130 columns: groups of 128 and 2; scales at [nb * pad(3,4) + r].
  const int64_t rows = 3, cols = 130;
  std::vector<float> x(rows * cols, 0.0f);
  x[0] = 896.0f;  // row 0 group 0: s = 2, r = 0.5 -> 448 = 0x7E
  x[1] = -1.0f;   // -> -0.5 = 0xB0
  x[cols + 128] = 1.0f;  // row 1 group 1: s = 0x3B124925, x * r = 447.99997 -> 0x7E
  std::vector<uint8_t> q(rows * cols);
  std::vector<float> s(2 * 4, -7.0f);
  reference::quantize(x.data(), rows, cols, 0, spec(OutFormat::kG128FP32, q.data(), s.data()));
  EXPECT_EQ(s[0], 2.0f);
  EXPECT_EQ(q[0], 0x7E);
  EXPECT_EQ(q[1], 0xB0);
  EXPECT_EQ(s[1], 1.0f);  // row 1 group 0: amax 0 -> s = 1.0, q = 0
  EXPECT_EQ(q[cols + 5], 0x00);
  EXPECT_EQ(s[4 + 0], 1.0f);  // row 0 group 1
  EXPECT_EQ(rules::float_bits(s[4 + 1]), 0x3b124925u);
  EXPECT_EQ(q[cols + 128], 0x7E);
  EXPECT_EQ(s[3], -7.0f);  // padding row 3 not written
  EXPECT_EQ(s[7], -7.0f);
}

TEST(QuantizeG128, Fp32InfinityGivesZeroElements) {
  std::vector<float> x(16, 5.0f);
  x[2] = std::numeric_limits<float>::infinity();
  std::vector<uint8_t> q(16);
  std::vector<float> s(4);
  reference::quantize(x.data(), 1, 16, 0, spec(OutFormat::kG128FP32, q.data(), s.data()));
  EXPECT_TRUE(std::isinf(s[0]));
  EXPECT_EQ(q[0], 0x00);  // finite * 0
  EXPECT_EQ(q[2], 0x7F);  // Inf * 0 = NaN -> 0x7F
}

TEST(QuantizeG128, Ue8m0PowerOfTwoScales) {
  // amax 500 -> RCEIL byte 128 -> stored 2.0f; 500 * 0.5 = 250 -> 0x78; 1.0 -> 0.5 = 0x30. out.rule is ignored.
  std::vector<float> x(32, 1.0f);
  x[9] = -500.0f;
  std::vector<uint8_t> q(32);
  std::vector<float> s(4);
  reference::quantize(x.data(), 1, 32, 0, spec(OutFormat::kG128UE8M0, q.data(), s.data()));
  EXPECT_EQ(s[0], 2.0f);
  EXPECT_EQ(q[9], 0xF8);
  EXPECT_EQ(q[0], kE4m3Half);
}

TEST(Quantize, RejectsBf16AndNullPointers) {
  std::vector<float> x(32);
  std::vector<uint8_t> q(32), s(1);
  EXPECT_THROW(reference::quantize(x.data(), 1, 32, 0, spec(OutFormat::kBF16, q.data(), s.data())), Error);
  EXPECT_THROW(reference::quantize(x.data(), 1, 32, 0, spec(OutFormat::kMXFP8, q.data(), nullptr)), Error);
}

TEST(Dequantize, InvertsQuantizeForEveryFormat) {
  const int64_t rows = 5, cols = 160;
  std::vector<float> x(rows * cols);
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  for (auto& v : x) v = normal(rng);
  for (OutFormat format : {OutFormat::kMXFP8, OutFormat::kG128FP32, OutFormat::kG128UE8M0}) {
    for (ScaleLayout layout : {ScaleLayout::kCompact, ScaleLayout::kBlocked128x4}) {
      if (format != OutFormat::kMXFP8 && layout != ScaleLayout::kCompact) continue;
      std::vector<uint8_t> q(rows * cols);
      std::vector<uint8_t> s(scale_elements(format, layout, rows, cols) * 4);
      const auto out = spec(format, q.data(), s.data(), ScaleRule::kRCEIL, layout);
      reference::quantize(x.data(), rows, cols, 0, out);
      const auto y = reference::dequantize(rows, cols, out);
      for (int64_t i = 0; i < rows * cols; ++i) {
        // e4m3 keeps 3 mantissa bits: relative error <= 2^-4 for values in the normal range of the group.
        ASSERT_NEAR(y[i], x[i], std::fabs(x[i]) / 16 + 1e-2f) << to_string(format) << " " << i;
      }
    }
  }
}

TEST(Dequantize, ExactValuesMxfp8) {
  // q = 0x78 (256) with byte 120 (2^-7) -> 2.0; q = 0x7E with byte 0xFF -> NaN.
  std::vector<uint8_t> q = {0x78, 0x7E}, s = {120, 0xFF};
  OutputSpec out = spec(OutFormat::kMXFP8, q.data(), s.data());
  out.ld = 1;
  const auto y = reference::dequantize(2, 1, out);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_TRUE(std::isnan(y[1]));
}

TEST(ToBf16, RoundsAndHonoursStrides) {
  const std::vector<float> x = {1.0f, rules::bits_float(0x3F818000u), 99.0f, -2.0f, 3.0f, 99.0f};
  std::vector<uint16_t> out(2 * 4, 0xEEEE);
  reference::to_bf16(x.data(), 2, 2, 3, out.data(), 4);
  EXPECT_EQ(out[0], 0x3F80);
  EXPECT_EQ(out[1], 0x3F82);
  EXPECT_EQ(out[2], 0xEEEE);
  EXPECT_EQ(out[4], 0xC000);
  EXPECT_EQ(out[5], 0x4040);
}

TEST(SfaToMnMajor, TransposesAndZeroesPadding) {
  // M=5, kblocks=2, ld_src=3: src(m, kb) = 10m + kb; dst [2][8].
  std::vector<float> src(5 * 3, -1.0f);
  for (int m = 0; m < 5; ++m)
    for (int kb = 0; kb < 2; ++kb) src[m * 3 + kb] = static_cast<float>(10 * m + kb);
  const auto dst = reference::sfa_to_mn_major(src.data(), 5, 2, 3);
  const std::vector<float> want = {0, 10, 20, 30, 40, 0, 0, 0, 1, 11, 21, 31, 41, 0, 0, 0};
  EXPECT_EQ(dst, want);
}

}  // namespace
}  // namespace mxgemm
