// Private helpers of the validation layer (src/host/validate.cpp), also usable by the host launch code so that
// defaults ("0 means ...") are resolved in exactly one way.
#pragma once

#include <cstdint>
#include <string>

#include "mxgemm/mxgemm.h"

namespace mxgemm::detail {

// Alignment every TMA global address and row pitch needs (cuTensorMapEncodeTiled).
inline constexpr int64_t kTmaAlignmentBytes = 16;

// "0 means <default>" for strides.
inline int64_t or_default(int64_t value, int64_t default_value) { return value == 0 ? default_value : value; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Resolved strides of the public argument structs (after validate() they are all valid).
inline int64_t resolved_lda(const GemmNTArgs& args) { return or_default(args.lda, args.K); }
inline int64_t resolved_ldb(const GemmNTArgs& args) { return or_default(args.ldb, args.K); }
inline int64_t resolved_ldsfa(int64_t ldsfa, int64_t rows) { return or_default(ldsfa, mn_major_ld(rows)); }
inline int64_t resolved_out_ld(const OutputSpec& out, int64_t cols) { return or_default(out.ld, cols); }

// Bytes of one element of an output format's data (bf16: 2, e4m3: 1).
inline int64_t output_element_bytes(OutFormat f) { return f == OutFormat::kBF16 ? 2 : 1; }

// "0x7f12345601" or "nullptr": how every validation message prints a pointer.
std::string format_pointer(const void* p);

}  // namespace mxgemm::detail
