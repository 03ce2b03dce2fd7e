// mxgemm public C++ API: FP8 GEMMs for Hopper (SM90a) whose epilogues write quantized output, and the standalone
// quantizers that follow the same contract (../shared/FORMAT.md, mirrored in docs/FORMAT.md).
//
// Every entry point takes raw device pointers and a cudaStream_t, validates all of its arguments on the host
// first (throwing mxgemm::Error that names the argument, the value and the rule; nothing is launched and nothing
// is written on error), then launches asynchronously: no allocation and no host synchronisation, so every call is
// CUDA-graph capturable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>

namespace mxgemm {

// ---------------------------------------------------------------------------------------------------------------
// Errors
enum class ErrorCode : int {
  kInvalidArgument = 1,  // a shape, pointer, stride or option breaks a rule of FORMAT.md / this API
  kUnsupported = 2,      // valid request this build or this GPU cannot run (e.g. not an SM90 device)
  kNotImplemented = 3,   // a combination that is part of the contract but not implemented yet
  kCudaError = 4,        // a CUDA runtime/driver call failed
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// ---------------------------------------------------------------------------------------------------------------
// Output description (FORMAT.md §2-3)
enum class OutFormat : int {
  kBF16 = 0,       // bf16 [M, N]
  kMXFP8 = 1,      // e4m3 [M, N] + one e8m0 byte per 32 elements of a row
  kG128FP32 = 2,   // e4m3 [M, N] + one FP32 scale per 128 elements of a row, MN-major (= the SFA layout)
  kG128UE8M0 = 3,  // as kG128FP32 with power-of-two scales (RCEIL rule)
};
enum class ScaleRule : int { kRCEIL = 0, kFLOOR = 1 };               // mxfp8 only
enum class ScaleLayout : int { kCompact = 0, kBlocked128x4 = 1 };    // mxfp8 only

const char* to_string(OutFormat f);
const char* to_string(ScaleRule r);
const char* to_string(ScaleLayout l);

struct OutputSpec {
  OutFormat format = OutFormat::kBF16;
  ScaleRule rule = ScaleRule::kRCEIL;
  ScaleLayout layout = ScaleLayout::kCompact;
  void* data = nullptr;   // bf16 or e4m3, row-major [rows, cols]
  int64_t ld = 0;         // leading dimension of data in elements; 0 means cols (dense)
  void* scales = nullptr; // e8m0 bytes (mxfp8) or FP32 (g128_*); must be null for bf16
};

// Group size of a quantized format (32 for mxfp8, 128 for g128_*), 0 for bf16.
int group_size(OutFormat f);
// Number of scale elements (bytes for mxfp8, floats for g128_*) that a [rows, cols] output needs, padding included:
// compact: rows * ceil(cols/32); blocked128x4: pad(rows,128) * pad(ceil(cols/32),4); g128: ceil(cols/128) * pad(rows,4).
int64_t scale_elements(OutFormat f, ScaleLayout layout, int64_t rows, int64_t cols);
// Leading dimension of an MN-major FP32 scale matrix (SFA, g128 outputs): pad(rows, 4).
inline int64_t mn_major_ld(int64_t rows) { return (rows + 3) / 4 * 4; }

// ---------------------------------------------------------------------------------------------------------------
// Dense FP8 GEMM "NT": D[M,N] = (A[M,K] * SFA) . (B[N,K] * SFB)^T   (FORMAT.md §1)
struct GemmNTArgs {
  int64_t M = 0, N = 0, K = 0;
  const void* a = nullptr;   // e4m3 [M, K], row stride lda (elements == bytes), lda % 16 == 0
  int64_t lda = 0;           // 0 means K
  const float* sfa = nullptr;  // FP32 [ceil(K/128)] x [ldsfa], element (m, kb) at sfa[kb * ldsfa + m]
  int64_t ldsfa = 0;           // 0 means pad(M,4); must be >= M and a multiple of 4
  const void* b = nullptr;   // e4m3 [N, K], row stride ldb
  int64_t ldb = 0;           // 0 means K
  const float* sfb = nullptr;  // FP32 [ceil(N/128), ceil(K/128)] row-major
  OutputSpec out;              // rows = M, cols = N
  // Programmatic dependent launch: let this GEMM start while the previous kernel in the stream is still finishing.
  // The kernel requests the first K blocks of B (the weights) right away and waits for the previous kernel to
  // complete before it reads A, SFA or SFB or writes any output, so a producer -> GEMM chain stays correct; B and
  // SFB must therefore not be written by the previous kernel. Works under CUDA-graph capture. Off by default.
  bool pdl = false;
};

// M-grouped contiguous (MoE prefill/training, FORMAT.md §4). A [sum_M, K], B [G, N, K], SFB [G, ceil(N/128),
// ceil(K/128)], layout int32 [sum_M] on the device: the group of each row, -1 for padding rows.
struct GroupedContiguousArgs {
  int64_t num_groups = 0, M = 0, N = 0, K = 0;  // M = sum of the (128-aligned) group rows
  const void* a = nullptr;
  const float* sfa = nullptr;
  int64_t ldsfa = 0;          // 0 means pad(M,4)
  const void* b = nullptr;
  const float* sfb = nullptr;
  const int32_t* layout = nullptr;
  OutputSpec out;
};

// M-grouped masked (MoE decode, FORMAT.md §4). A [G, max_m, K], SFA [G, ceil(K/128), pad(max_m,4)],
// out [G, max_m, N]; masked_m int32 [G] on the device.
struct GroupedMaskedArgs {
  int64_t num_groups = 0, max_m = 0, N = 0, K = 0;
  int64_t expected_m = 0;     // host hint for the tile choice; 0 means max_m
  const void* a = nullptr;
  const float* sfa = nullptr;
  const void* b = nullptr;
  const float* sfb = nullptr;
  const int32_t* masked_m = nullptr;
  OutputSpec out;
};

// Row alignment of every group in the contiguous grouped layout.
inline constexpr int64_t get_m_alignment() { return 128; }

void fp8_gemm_nt(const GemmNTArgs& args, cudaStream_t stream);
void m_grouped_fp8_gemm_nt_contiguous(const GroupedContiguousArgs& args, cudaStream_t stream);
void m_grouped_fp8_gemm_nt_masked(const GroupedMaskedArgs& args, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------------------------
// Standalone quantizers (same rules as the fused epilogues: byte-identical for the same FP32 input)
enum class InputType : int { kBF16 = 0, kFP32 = 1 };

struct QuantizeArgs {
  int64_t M = 0, N = 0;
  const void* x = nullptr;  // [M, N] row-major, row stride ldx elements
  InputType type = InputType::kBF16;
  int64_t ldx = 0;          // 0 means N
  bool columnwise = false;  // false: out [M, N], groups along N. true: out = quantize(x^T), [N, M], groups along M
  OutputSpec out;           // format must not be bf16; rows/cols are those of the output
};
void quantize(const QuantizeArgs& args, cudaStream_t stream);

// Row-major [M, kblocks] FP32 scales (row stride ld_src) -> MN-major SFA [kblocks, pad(M,4)] (padding zeroed).
void transform_sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src, float* dst,
                               cudaStream_t stream);

// ---------------------------------------------------------------------------------------------------------------
// Validation layer: pure host code, no CUDA calls, testable without a GPU. The entry points above call these
// with the current device's DeviceInfo before anything is launched.
struct DeviceInfo {
  int cc_major = 9, cc_minor = 0;
  int num_sms = 132;
};
DeviceInfo current_device_info();  // throws kUnsupported if no CUDA device is present

void validate(const GemmNTArgs& args, const DeviceInfo& dev);
void validate(const GroupedContiguousArgs& args, const DeviceInfo& dev);
void validate(const GroupedMaskedArgs& args, const DeviceInfo& dev);
void validate(const QuantizeArgs& args, const DeviceInfo& dev);

}  // namespace mxgemm
