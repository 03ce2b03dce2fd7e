// The validation layer: a valid call of every entry point passes, and each broken rule is rejected with an
// mxgemm::Error whose message names the argument and its value (docs/API.md, "Validation rules").
// validate() never dereferences pointers, so fake aligned addresses stand in for device memory.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

#include "mxgemm/mxgemm.h"

namespace mxgemm {
namespace {

const void* fake_pointer(uintptr_t address) { return reinterpret_cast<const void*>(address); }
void* fake_mutable_pointer(uintptr_t address) { return reinterpret_cast<void*>(address); }
const float* fake_floats(uintptr_t address) { return reinterpret_cast<const float*>(address); }

const DeviceInfo kHopper{};  // 9.0, 132 SMs

// EXPECT_THROW plus the message check: every fragment must appear in the message, and the code must match.
template <class Args>
void expect_rejected(const Args& args, std::initializer_list<std::string> fragments,
                     ErrorCode code = ErrorCode::kInvalidArgument, const DeviceInfo& dev = kHopper) {
  EXPECT_THROW(validate(args, dev), Error);
  try {
    validate(args, dev);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message \"" << message << "\" lacks \"" << fragment << "\"";
    }
  }
}

GemmNTArgs valid_gemm() {
  GemmNTArgs args;
  args.M = 100;
  args.N = 256;
  args.K = 4096;
  args.a = fake_pointer(0x10000);
  args.b = fake_pointer(0x20000);
  args.sfa = fake_floats(0x30000);
  args.sfb = fake_floats(0x40000);
  args.out.format = OutFormat::kMXFP8;
  args.out.data = fake_mutable_pointer(0x50000);
  args.out.scales = fake_mutable_pointer(0x60000);
  return args;
}

GroupedContiguousArgs valid_contiguous() {
  GroupedContiguousArgs args;
  args.num_groups = 4;
  args.M = 1024;
  args.N = 512;
  args.K = 2048;
  args.a = fake_pointer(0x10000);
  args.b = fake_pointer(0x20000);
  args.sfa = fake_floats(0x30000);
  args.sfb = fake_floats(0x40000);
  args.layout = reinterpret_cast<const int32_t*>(0x70000);
  args.out.format = OutFormat::kG128FP32;
  args.out.data = fake_mutable_pointer(0x50000);
  args.out.scales = fake_mutable_pointer(0x60000);
  return args;
}

GroupedMaskedArgs valid_masked() {
  GroupedMaskedArgs args;
  args.num_groups = 8;
  args.max_m = 64;
  args.N = 7168;
  args.K = 2048;
  args.expected_m = 16;
  args.a = fake_pointer(0x10000);
  args.b = fake_pointer(0x20000);
  args.sfa = fake_floats(0x30000);
  args.sfb = fake_floats(0x40000);
  args.masked_m = reinterpret_cast<const int32_t*>(0x70000);
  args.out.format = OutFormat::kBF16;
  args.out.data = fake_mutable_pointer(0x50000);
  return args;
}

QuantizeArgs valid_quantize() {
  QuantizeArgs args;
  args.M = 96;
  args.N = 160;
  args.x = fake_pointer(0x10000);
  args.out.format = OutFormat::kMXFP8;
  args.out.data = fake_mutable_pointer(0x50000);
  args.out.scales = fake_mutable_pointer(0x60000);
  return args;
}

template <class Args>
Args with(Args args, const std::function<void(Args&)>& change) {
  change(args);
  return args;
}

TEST(Validate, ValidCallsPass) {
  EXPECT_NO_THROW(validate(valid_gemm(), kHopper));
  EXPECT_NO_THROW(validate(valid_contiguous(), kHopper));
  EXPECT_NO_THROW(validate(valid_masked(), kHopper));
  EXPECT_NO_THROW(validate(valid_quantize(), kHopper));
  // Strides, all formats and layouts, partial K block, partial g128 group.
  EXPECT_NO_THROW(validate(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                             a.K = 144; a.lda = 160; a.ldb = 144; a.ldsfa = 104;
                             a.out.layout = ScaleLayout::kBlocked128x4; a.out.rule = ScaleRule::kFLOOR;
                             a.out.ld = 288; }), kHopper));
  EXPECT_NO_THROW(validate(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                             a.N = 144; a.out.format = OutFormat::kG128UE8M0; }), kHopper));
  EXPECT_NO_THROW(validate(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                             a.M = 1; a.N = 8; a.K = 16; a.out.format = OutFormat::kBF16; a.out.scales = nullptr; }),
                           kHopper));
  EXPECT_NO_THROW(validate(with<QuantizeArgs>(valid_quantize(), [](auto& a) {
                             a.M = 64; a.N = 20; a.ldx = 24; a.type = InputType::kFP32; a.columnwise = true; }),
                           kHopper));
}

// ---- fp8_gemm_nt -----------------------------------------------------------------------------------------------
TEST(ValidateGemm, ShapeRules) {
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.K = 4100; }),
                  {"fp8_gemm_nt", "K=4100", "multiple of 16", "TMA row pitch"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.M = 0; }), {"M=0", "> 0"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.N = -32; }), {"N=-32", "> 0"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.K = 0; }), {"K=0", "> 0"});
}

TEST(ValidateGemm, StrideRules) {
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.lda = 4080; }), {"lda=4080", ">= K=4096"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.lda = 4104; }), {"lda=4104", "multiple of 16"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.ldb = 4097; }), {"ldb=4097", "multiple of 16"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.ldsfa = 96; }), {"ldsfa=96", ">= M=100"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.ldsfa = 102; }), {"ldsfa=102", "multiple of 4"});
}

TEST(ValidateGemm, PointerRules) {
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.a = fake_pointer(0x10001); }),
                  {"a=0x10001", "16-byte aligned", "TMA"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.b = nullptr; }), {"b=nullptr", "must not be null"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.sfa = fake_floats(0x30004); }),
                  {"sfa=0x30004", "16-byte aligned"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.sfb = nullptr; }), {"sfb=nullptr"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.data = fake_mutable_pointer(0x50008); }),
                  {"out.data=0x50008", "16-byte aligned"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.scales = fake_mutable_pointer(0x60004); }),
                  {"out.scales=0x60004", "16-byte aligned"});
}

TEST(ValidateGemm, OutputRules) {
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.N = 48; }),
                  {"N=48", "multiple of 32", "mxfp8"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.N = 40; a.out.format = OutFormat::kG128FP32; }),
                  {"N=40", "multiple of 16", "g128_fp32"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                    a.N = 12; a.out.format = OutFormat::kBF16; a.out.scales = nullptr; }),
                  {"N=12", "multiple of 8", "bf16"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.scales = nullptr; }),
                  {"out.scales=nullptr", "must not be null"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.format = OutFormat::kBF16; }),
                  {"out.scales=0x60000", "must be null for bf16"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.ld = 128; }), {"out.ld=128", ">= N=256"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.ld = 264; }), {"out.ld=264", "multiple of 16"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                    a.out.format = OutFormat::kBF16; a.out.scales = nullptr; a.out.ld = 260; }),
                  {"out.ld=260", "multiple of 8"});
}

TEST(ValidateGemm, EnumRules) {
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.format = static_cast<OutFormat>(7); }),
                  {"out.format=7", "not a valid OutFormat"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.rule = static_cast<ScaleRule>(-1); }),
                  {"out.rule=-1", "not a valid ScaleRule"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) { a.out.layout = static_cast<ScaleLayout>(2); }),
                  {"out.layout=2", "not a valid ScaleLayout"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                    a.out.format = OutFormat::kG128UE8M0; a.out.rule = ScaleRule::kFLOOR; }),
                  {"out.rule=floor", "only mxfp8", "g128_ue8m0"});
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                    a.out.format = OutFormat::kBF16; a.out.scales = nullptr;
                    a.out.layout = ScaleLayout::kBlocked128x4; }),
                  {"out.layout=blocked128x4", "only mxfp8", "bf16"});
}

TEST(ValidateGemm, DeviceMustBeSm90) {
  expect_rejected(valid_gemm(), {"compute capability=8.0", "9.0"}, ErrorCode::kUnsupported, DeviceInfo{8, 0, 108});
  expect_rejected(valid_gemm(), {"compute capability=10.0"}, ErrorCode::kUnsupported, DeviceInfo{10, 0, 148});
  expect_rejected(valid_gemm(), {"compute capability=12.0"}, ErrorCode::kUnsupported, DeviceInfo{12, 0, 84});
}

TEST(ValidateGemm, Int64OverflowIsRejected) {
  expect_rejected(with<GemmNTArgs>(valid_gemm(), [](auto& a) {
                    a.M = int64_t{1} << 40; a.ldsfa = 0; a.K = int64_t{1} << 30; }),
                  {"overflows int64"});
}

// ---- grouped ---------------------------------------------------------------------------------------------------
TEST(ValidateGrouped, ContiguousRules) {
  expect_rejected(with<GroupedContiguousArgs>(valid_contiguous(), [](auto& a) { a.num_groups = 0; }),
                  {"m_grouped_fp8_gemm_nt_contiguous", "num_groups=0", "> 0"});
  expect_rejected(with<GroupedContiguousArgs>(valid_contiguous(), [](auto& a) { a.M = 1000; }),
                  {"M=1000", "multiple of 128"});
  expect_rejected(with<GroupedContiguousArgs>(valid_contiguous(), [](auto& a) { a.layout = nullptr; }),
                  {"layout=nullptr", "must not be null"});
  expect_rejected(with<GroupedContiguousArgs>(valid_contiguous(), [](auto& a) { a.ldsfa = 1020; }),
                  {"ldsfa=1020", ">= M=1024"});
  expect_rejected(with<GroupedContiguousArgs>(valid_contiguous(), [](auto& a) { a.K = 2056; }), {"K=2056"});
}

TEST(ValidateGrouped, MaskedRules) {
  expect_rejected(with<GroupedMaskedArgs>(valid_masked(), [](auto& a) { a.max_m = 0; }),
                  {"m_grouped_fp8_gemm_nt_masked", "max_m=0", "> 0"});
  expect_rejected(with<GroupedMaskedArgs>(valid_masked(), [](auto& a) { a.expected_m = 65; }),
                  {"expected_m=65", "[0, max_m=64]"});
  expect_rejected(with<GroupedMaskedArgs>(valid_masked(), [](auto& a) { a.expected_m = -1; }), {"expected_m=-1"});
  expect_rejected(with<GroupedMaskedArgs>(valid_masked(), [](auto& a) { a.masked_m = nullptr; }),
                  {"masked_m=nullptr"});
  expect_rejected(with<GroupedMaskedArgs>(valid_masked(), [](auto& a) { a.num_groups = -2; }), {"num_groups=-2"});
  expect_rejected(with<GroupedMaskedArgs>(valid_masked(),
                                         [](auto& a) { a.out.scales = fake_mutable_pointer(0x60000); }),
                  {"out.scales=0x60000", "bf16"});
}

// ---- quantize --------------------------------------------------------------------------------------------------
TEST(ValidateQuantize, Rules) {
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.out.format = OutFormat::kBF16; }),
                  {"quantize", "out.format=bf16", "quantized format"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.N = 80; }),
                  {"N=80", "multiple of 32", "mxfp8"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.columnwise = true; a.M = 80; }),
                  {"M=80", "multiple of 32", "columnwise"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) {
                    a.columnwise = true; a.M = 72; a.out.format = OutFormat::kG128FP32; }),
                  {"M=72", "multiple of 16"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.ldx = 100; }), {"ldx=100", ">= N=160"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.ldx = 164; }), {"ldx=164", "multiple of 8"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.ldx = 162; a.type = InputType::kFP32; }),
                  {"ldx=162", "multiple of 4"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.x = fake_pointer(0x10002); }),
                  {"x=0x10002", "16-byte aligned"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.x = nullptr; }), {"x=nullptr"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.type = static_cast<InputType>(3); }),
                  {"type=3", "not a valid InputType"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.columnwise = true; a.out.ld = 64; }),
                  {"out.ld=64", ">= M=96"});
  expect_rejected(with<QuantizeArgs>(valid_quantize(), [](auto& a) { a.M = -1; }), {"M=-1"});
  expect_rejected(valid_quantize(), {"compute capability=9.2"}, ErrorCode::kUnsupported, DeviceInfo{9, 2, 132});
}

// ---- api_common ------------------------------------------------------------------------------------------------
TEST(ApiCommon, Names) {
  EXPECT_STREQ(to_string(OutFormat::kBF16), "bf16");
  EXPECT_STREQ(to_string(OutFormat::kMXFP8), "mxfp8");
  EXPECT_STREQ(to_string(OutFormat::kG128FP32), "g128_fp32");
  EXPECT_STREQ(to_string(OutFormat::kG128UE8M0), "g128_ue8m0");
  EXPECT_STREQ(to_string(ScaleRule::kRCEIL), "rceil");
  EXPECT_STREQ(to_string(ScaleRule::kFLOOR), "floor");
  EXPECT_STREQ(to_string(ScaleLayout::kCompact), "compact");
  EXPECT_STREQ(to_string(ScaleLayout::kBlocked128x4), "blocked128x4");
  EXPECT_STREQ(to_string(static_cast<OutFormat>(9)), "invalid");
}

TEST(ApiCommon, GroupSizeAndScaleElements) {
  EXPECT_EQ(group_size(OutFormat::kBF16), 0);
  EXPECT_EQ(group_size(OutFormat::kMXFP8), 32);
  EXPECT_EQ(group_size(OutFormat::kG128FP32), 128);
  EXPECT_EQ(group_size(OutFormat::kG128UE8M0), 128);
  EXPECT_THROW(group_size(static_cast<OutFormat>(4)), Error);
  EXPECT_EQ(scale_elements(OutFormat::kBF16, ScaleLayout::kCompact, 100, 256), 0);
  EXPECT_EQ(scale_elements(OutFormat::kMXFP8, ScaleLayout::kCompact, 100, 256), 800);        // 100 * 8
  EXPECT_EQ(scale_elements(OutFormat::kMXFP8, ScaleLayout::kCompact, 3, 40), 6);             // 3 * ceil(40/32)
  EXPECT_EQ(scale_elements(OutFormat::kMXFP8, ScaleLayout::kBlocked128x4, 130, 288), 3072);  // 256 * pad(9,4)
  EXPECT_EQ(scale_elements(OutFormat::kMXFP8, ScaleLayout::kBlocked128x4, 1, 32), 512);      // one tile
  EXPECT_EQ(scale_elements(OutFormat::kG128FP32, ScaleLayout::kCompact, 5, 130), 16);        // 2 * pad(5,4)
  EXPECT_EQ(scale_elements(OutFormat::kG128UE8M0, ScaleLayout::kCompact, 4, 128), 4);
  EXPECT_EQ(mn_major_ld(5), 8);
  EXPECT_EQ(mn_major_ld(8), 8);
  EXPECT_EQ(get_m_alignment(), 128);
}

TEST(ApiCommon, CurrentDeviceInfoNeverCrashes) {
  // Without a GPU or driver (CI) this must be a clean kUnsupported error; with one, a plausible answer.
  try {
    const DeviceInfo info = current_device_info();
    EXPECT_GE(info.cc_major, 1);
    EXPECT_GE(info.num_sms, 1);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("CUDA device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mxgemm
