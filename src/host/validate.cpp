// Validation layer: every rule an argument must obey before anything is launched (docs/API.md, "Validation
// rules", is the table of these checks). Pure host code without CUDA calls, so the CPU tests cover all of it.
//
// Every rejection throws mxgemm::Error whose message is "<entry point>: <argument>=<value>: <rule> (<why>)",
// e.g. "fp8_gemm_nt: K=4100: must be a multiple of 16 (TMA row pitch)". The "why" names the hardware or format
// reason, so a user can tell a hard limit from a contract choice.

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <string>

#include "host/validate_detail.h"
#include "mxgemm/mxgemm.h"

namespace mxgemm {
namespace detail {

std::string format_pointer(const void* p) {
  if (p == nullptr) return "nullptr";
  char text[32];
  std::snprintf(text, sizeof(text), "0x%" PRIxPTR, reinterpret_cast<uintptr_t>(p));
  return text;
}

}  // namespace detail

namespace {

using detail::ceil_div;
using detail::kTmaAlignmentBytes;

std::string assignment(const std::string& name, int64_t value) {
  return name + "=" + std::to_string(value);
}

// Collects the entry point's name so that every message starts with it; each check throws on the first broken
// rule (one clear message beats a list of consequences of the same mistake).
class Checker {
 public:
  explicit Checker(const char* entry_point) : entry_point_(entry_point) {}

  [[noreturn]] void fail(const std::string& subject, const std::string& rule,
                         ErrorCode code = ErrorCode::kInvalidArgument) const {
    throw Error(code, std::string(entry_point_) + ": " + subject + ": " + rule);
  }

  void positive(const std::string& name, int64_t value) const {
    if (value <= 0) fail(assignment(name, value), "must be > 0");
  }

  void multiple_of(const std::string& name, int64_t value, int64_t divisor, const std::string& why) const {
    if (value % divisor != 0)
      fail(assignment(name, value), "must be a multiple of " + std::to_string(divisor) + " (" + why + ")");
  }

  void at_least(const std::string& name, int64_t value, const std::string& bound_name, int64_t bound) const {
    if (value < bound) fail(assignment(name, value), "must be >= " + assignment(bound_name, bound));
  }

  void pointer(const std::string& name, const void* p, int64_t alignment, const std::string& why) const {
    if (p == nullptr) fail(name + "=nullptr", "must not be null");
    if (reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(alignment) != 0) {
      fail(name + "=" + detail::format_pointer(p),
           "must be " + std::to_string(alignment) + "-byte aligned (" + why + ")");
    }
  }

  // a * b for sizes that are later turned into byte offsets; products beyond int64 mean a corrupt shape.
  int64_t product(const std::string& what, int64_t a, int64_t b) const {
    int64_t result = 0;
    if (__builtin_mul_overflow(a, b, &result)) {
      fail(what + " = " + std::to_string(a) + " * " + std::to_string(b), "overflows int64 (shape too large)");
    }
    return result;
  }

  // Compute capability: wgmma and setmaxnreg exist only on sm_90a, whose cubin runs on CC 9.0 only.
  void device(const DeviceInfo& dev) const {
    if (dev.cc_major != 9 || dev.cc_minor != 0) {
      fail("device compute capability=" + std::to_string(dev.cc_major) + "." + std::to_string(dev.cc_minor),
           "mxgemm kernels need exactly 9.0 (Hopper, built for sm_90a: wgmma/TMA/setmaxnreg)", ErrorCode::kUnsupported);
    }
  }

 private:
  const char* entry_point_;
};

// M, N, K > 0, K a multiple of 16: A and B rows are K bytes of e4m3 and TMA needs 16-byte row pitches.
void check_problem_shape(const Checker& check, const char* m_name, int64_t M, int64_t N, int64_t K) {
  check.positive(m_name, M);
  check.positive("N", N);
  check.positive("K", K);
  check.multiple_of("K", K, 16, "TMA row pitch");
}

// A K-major e4m3 operand [rows, K] with row stride `ld` (0 = K).
void check_fp8_operand(const Checker& check, const char* name, const void* p, const char* ld_name, int64_t ld,
                       int64_t K) {
  check.pointer(name, p, kTmaAlignmentBytes, "TMA");
  if (ld_name != nullptr && ld != 0) {
    check.at_least(ld_name, ld, "K", K);
    check.multiple_of(ld_name, ld, 16, "TMA row pitch in bytes");
  }
}

// SFA: FP32 [ceil(K/128)] x [ldsfa], MN-major; ldsfa = 0 means pad(M, 4).
void check_sfa(const Checker& check, const float* sfa, const char* ldsfa_name, int64_t ldsfa, const char* m_name,
               int64_t M, int64_t K) {
  check.pointer("sfa", sfa, kTmaAlignmentBytes, "TMA");
  if (ldsfa_name != nullptr && ldsfa != 0) {
    check.at_least(ldsfa_name, ldsfa, m_name, M);
    check.multiple_of(ldsfa_name, ldsfa, 4, "16-byte TMA row pitch of FP32 scales");
  }
  check.product("ceil(K/128) * ldsfa * 4 bytes of sfa",
                check.product("ceil(K/128) * ldsfa", ceil_div(K, 128), detail::resolved_ldsfa(ldsfa, M)), 4);
}

void check_enums(const Checker& check, const OutputSpec& out) {
  const int format = static_cast<int>(out.format);
  if (format < 0 || format > 3) {
    check.fail(assignment("out.format", format), "not a valid OutFormat (0=bf16, 1=mxfp8, 2=g128_fp32, 3=g128_ue8m0)");
  }
  const int rule = static_cast<int>(out.rule);
  if (rule < 0 || rule > 1) check.fail(assignment("out.rule", rule), "not a valid ScaleRule (0=rceil, 1=floor)");
  const int layout = static_cast<int>(out.layout);
  if (layout < 0 || layout > 1) {
    check.fail(assignment("out.layout", layout), "not a valid ScaleLayout (0=compact, 1=blocked128x4)");
  }
  // The rule and layout options describe e8m0 scale bytes: a non-default value with another format is almost
  // certainly a mistake (g128_ue8m0 is always RCEIL and MN-major), so it is rejected rather than ignored.
  if (out.format != OutFormat::kMXFP8) {
    if (out.rule != ScaleRule::kRCEIL) {
      check.fail(std::string("out.rule=") + to_string(out.rule),
                 std::string("only mxfp8 output has a scale rule choice (out.format=") + to_string(out.format) +
                     "; g128_ue8m0 is always rceil)");
    }
    if (out.layout != ScaleLayout::kCompact) {
      check.fail(std::string("out.layout=") + to_string(out.layout),
                 std::string("only mxfp8 output has a scale layout choice (out.format=") + to_string(out.format) +
                     "; g128 scales are MN-major like SFA)");
    }
  }
}

// The output [batch x rows, cols] (cols named `cols_name`): format options, pointers, row pitch, group divisibility.
void check_output(const Checker& check, const OutputSpec& out, int64_t batch, int64_t rows, const char* cols_name,
                  int64_t cols, const std::string& cols_context) {
  check_enums(check, out);
  const std::string format = to_string(out.format);
  switch (out.format) {
    case OutFormat::kBF16:
      check.multiple_of(cols_name, cols, 8, "bf16 output" + cols_context + ": 16-byte TMA row pitch");
      break;
    case OutFormat::kMXFP8:
      check.multiple_of(cols_name, cols, 32, "mxfp8 output" + cols_context + ": one e8m0 scale per 32 columns");
      break;
    case OutFormat::kG128FP32:
    case OutFormat::kG128UE8M0:
      // 16 and not 128: the row pitch of the e4m3 output needs 16 bytes; a partial last 128-group is allowed.
      check.multiple_of(cols_name, cols, 16, format + " output" + cols_context + ": 16-byte TMA row pitch of e4m3");
      break;
  }
  check.pointer("out.data", out.data, kTmaAlignmentBytes, "TMA");
  const int64_t element_bytes = detail::output_element_bytes(out.format);
  const int64_t ld = detail::resolved_out_ld(out, cols);
  if (out.ld != 0) {
    check.at_least("out.ld", out.ld, cols_name, cols);
    check.multiple_of(
        "out.ld", out.ld, 16 / element_bytes,
        "16-byte TMA row pitch of " + format + " output: out.ld * " + std::to_string(element_bytes) + " bytes");
  }
  check.product("rows * out.ld * element bytes of out.data",
                check.product("rows * out.ld", check.product("batch * rows", batch, rows), ld), element_bytes);

  if (out.format == OutFormat::kBF16) {
    // A scale pointer with bf16 output means the caller expected scales that will never be written: reject.
    if (out.scales != nullptr) {
      check.fail("out.scales=" + detail::format_pointer(out.scales),
                 "must be null for bf16 output (bf16 has no scales)");
    }
    return;
  }
  // 16 bytes for every scale buffer: TMA for the MN-major FP32 scales, and 16-byte vector stores of a 128x4 tile's
  // rows (blocked128x4) or of runs of compact bytes. Stricter than some kernels need; easy to relax later, while
  // tightening would break callers.
  check.pointer("out.scales", out.scales, kTmaAlignmentBytes,
                out.format == OutFormat::kMXFP8 ? "vector stores of e8m0 scale bytes" : "TMA");
  const int64_t per_batch = scale_elements(out.format, out.layout, rows, cols);
  check.product("batch * scale elements", batch, per_batch);
}

std::string quantize_cols_context(bool columnwise) {
  return columnwise ? " of quantize columnwise, whose output is x^T [N, M]: groups run along M" : "";
}

}  // namespace

void validate(const GemmNTArgs& args, const DeviceInfo& dev) {
  const Checker check("fp8_gemm_nt");
  check.device(dev);
  check_problem_shape(check, "M", args.M, args.N, args.K);
  check_fp8_operand(check, "a", args.a, "lda", args.lda, args.K);
  check_fp8_operand(check, "b", args.b, "ldb", args.ldb, args.K);
  check.product("M * lda", args.M, detail::resolved_lda(args));
  check.product("N * ldb", args.N, detail::resolved_ldb(args));
  check_sfa(check, args.sfa, "ldsfa", args.ldsfa, "M", args.M, args.K);
  check.pointer("sfb", args.sfb, kTmaAlignmentBytes, "TMA");
  check.product("ceil(N/128) * ceil(K/128) of sfb", ceil_div(args.N, 128), ceil_div(args.K, 128));
  check_output(check, args.out, 1, args.M, "N", args.N, "");
}

void validate(const GroupedContiguousArgs& args, const DeviceInfo& dev) {
  const Checker check("m_grouped_fp8_gemm_nt_contiguous");
  check.device(dev);
  check.positive("num_groups", args.num_groups);
  check_problem_shape(check, "M", args.M, args.N, args.K);
  check.multiple_of("M", args.M, get_m_alignment(), "get_m_alignment(): every group's rows start at a multiple of 128");
  check_fp8_operand(check, "a", args.a, nullptr, 0, args.K);
  check.product("M * K", args.M, args.K);
  check_fp8_operand(check, "b", args.b, nullptr, 0, args.K);
  check.product("num_groups * N * K", args.num_groups, check.product("N * K", args.N, args.K));
  check_sfa(check, args.sfa, "ldsfa", args.ldsfa, "M", args.M, args.K);
  check.pointer("sfb", args.sfb, kTmaAlignmentBytes, "TMA");
  check.product("num_groups * ceil(N/128) * ceil(K/128) of sfb", args.num_groups,
                check.product("ceil(N/128) * ceil(K/128)", ceil_div(args.N, 128), ceil_div(args.K, 128)));
  if (args.layout == nullptr)
    check.fail("layout=nullptr", "must not be null (int32 [M] group index per row, -1 = padding)");
  check_output(check, args.out, 1, args.M, "N", args.N, "");
}

void validate(const GroupedMaskedArgs& args, const DeviceInfo& dev) {
  const Checker check("m_grouped_fp8_gemm_nt_masked");
  check.device(dev);
  check.positive("num_groups", args.num_groups);
  check_problem_shape(check, "max_m", args.max_m, args.N, args.K);
  if (args.expected_m < 0 || args.expected_m > args.max_m) {
    check.fail(assignment("expected_m", args.expected_m),
               "must be in [0, max_m=" + std::to_string(args.max_m) + "] (0 means max_m)");
  }
  check_fp8_operand(check, "a", args.a, nullptr, 0, args.K);
  check.product("num_groups * max_m * K", args.num_groups, check.product("max_m * K", args.max_m, args.K));
  check_fp8_operand(check, "b", args.b, nullptr, 0, args.K);
  check.product("num_groups * N * K", args.num_groups, check.product("N * K", args.N, args.K));
  check_sfa(check, args.sfa, nullptr, 0, "max_m", args.max_m, args.K);
  check.product("num_groups * ceil(K/128) * pad(max_m,4) of sfa", args.num_groups,
                check.product("ceil(K/128) * pad(max_m,4)", ceil_div(args.K, 128), mn_major_ld(args.max_m)));
  check.pointer("sfb", args.sfb, kTmaAlignmentBytes, "TMA");
  check.product("num_groups * ceil(N/128) * ceil(K/128) of sfb", args.num_groups,
                check.product("ceil(N/128) * ceil(K/128)", ceil_div(args.N, 128), ceil_div(args.K, 128)));
  if (args.masked_m == nullptr)
    check.fail("masked_m=nullptr", "must not be null (int32 [num_groups] valid rows per group)");
  check_output(check, args.out, args.num_groups, args.max_m, "N", args.N, "");
}

void validate(const QuantizeArgs& args, const DeviceInfo& dev) {
  const Checker check("quantize");
  check.device(dev);
  check.positive("M", args.M);
  check.positive("N", args.N);
  const int type = static_cast<int>(args.type);
  if (type < 0 || type > 1) check.fail(assignment("type", type), "not a valid InputType (0=bf16, 1=fp32)");
  const int64_t input_bytes = args.type == InputType::kBF16 ? 2 : 4;
  check.pointer("x", args.x, kTmaAlignmentBytes, "TMA");
  if (args.ldx != 0) {
    check.at_least("ldx", args.ldx, "N", args.N);
    check.multiple_of("ldx", args.ldx, 16 / input_bytes,
                      std::string("16-byte TMA row pitch: ldx * ") + std::to_string(input_bytes) + " bytes of " +
                          (args.type == InputType::kBF16 ? "bf16" : "fp32") + " input");
  } else {
    check.multiple_of("N", args.N, 16 / input_bytes,
                      std::string("16-byte TMA row pitch of the dense input (ldx=0 means N): N * ") +
                          std::to_string(input_bytes) + " bytes");
  }
  check.product("M * ldx * input bytes", check.product("M * ldx", args.M, detail::or_default(args.ldx, args.N)),
                input_bytes);
  if (static_cast<int>(args.out.format) == static_cast<int>(OutFormat::kBF16)) {
    check.fail("out.format=bf16", "quantize needs a quantized format (mxfp8, g128_fp32 or g128_ue8m0)");
  }
  // Columnwise output is x^T: [N, M], so its groups (and its row pitch) run along M.
  const int64_t out_rows = args.columnwise ? args.N : args.M;
  const int64_t out_cols = args.columnwise ? args.M : args.N;
  check_output(check, args.out, 1, out_rows, args.columnwise ? "M" : "N", out_cols,
               quantize_cols_context(args.columnwise));
}

}  // namespace mxgemm
