// mxgemm::quantize and mxgemm::transform_sfa_to_mn_major: validate on the host, resolve defaults, launch on the
// caller's stream. No allocation, no synchronisation (CUDA-graph capturable).
#include <string>

#include "host/validate_detail.h"
#include "kernels/quantize_launch.h"
#include "mxgemm/mxgemm.h"

namespace mxgemm {
namespace {

[[noreturn]] void throw_cuda(const char* what, cudaError_t e) {
  throw Error(ErrorCode::kCudaError,
              std::string(what) + ": kernel launch failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

namespace detail {

void quantize_tuned(const QuantizeArgs& args, const kernels::quant::Tuning& tuning, cudaStream_t stream) {
  const DeviceInfo dev = current_device_info();
  validate(args, dev);
  namespace kq = kernels::quant;
  kq::QuantParams p;
  p.x = args.x;
  p.M = args.M;
  p.N = args.N;
  p.ldx = or_default(args.ldx, args.N);
  p.rows = args.columnwise ? args.N : args.M;
  p.cols = args.columnwise ? args.M : args.N;
  p.q = static_cast<uint8_t*>(args.out.data);
  p.ldq = resolved_out_ld(args.out, p.cols);
  p.scales = args.out.scales;
  const int64_t group = group_size(args.out.format);
  p.scale_cols = ceil_div(p.cols, group);
  p.scale_ld = args.out.format == OutFormat::kMXFP8 ? p.scale_cols : mn_major_ld(p.rows);
  const int64_t in_bytes = args.type == InputType::kBF16 ? 2 : 4;
  p.in_vec = aligned16(p.x) && (p.ldx * in_bytes) % 16 == 0;
  p.out_vec = aligned16(p.q) && p.ldq % 16 == 0;

  cudaError_t e;
  if (args.columnwise) {
    e = kq::run_colwise(args.type, p, args.out, dev.num_sms, tuning, stream);
  } else {
    // The rowwise kernel indexes 512-element work items with 32-bit integers.
    const int64_t items = p.M * ceil_div(p.N, kq::kWarpSpan);
    if (items > (int64_t{1} << 31)) {
      throw Error(ErrorCode::kNotImplemented,
                  "quantize: M * ceil(N/512) = " + std::to_string(items) +
                      ": must be <= 2^31 (32-bit work-item index of the rowwise quantizer)");
    }
    e = args.type == InputType::kFP32 ? kq::run_rowwise_fp32(p, args.out, dev.num_sms, tuning, stream)
                                      : kq::run_rowwise_bf16(p, args.out, dev.num_sms, tuning, stream);
  }
  if (e != cudaSuccess) throw_cuda("quantize", e);
}

}  // namespace detail

void quantize(const QuantizeArgs& args, cudaStream_t stream) {
  detail::quantize_tuned(args, kernels::quant::Tuning{}, stream);
}

void transform_sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src, float* dst,
                               cudaStream_t stream) {
  const DeviceInfo dev = current_device_info();
  const std::string ep = "transform_sfa_to_mn_major: ";
  auto fail = [&](const std::string& subject, const std::string& rule, ErrorCode code = ErrorCode::kInvalidArgument) {
    throw Error(code, ep + subject + ": " + rule);
  };
  if (dev.cc_major != 9 || dev.cc_minor != 0) {
    fail("device compute capability=" + std::to_string(dev.cc_major) + "." + std::to_string(dev.cc_minor),
         "mxgemm kernels need exactly 9.0 (Hopper, built for sm_90a)", ErrorCode::kUnsupported);
  }
  if (M <= 0) fail("M=" + std::to_string(M), "must be > 0");
  if (kblocks <= 0) fail("kblocks=" + std::to_string(kblocks), "must be > 0");
  if (kblocks > (int64_t{65535} * 32)) fail("kblocks=" + std::to_string(kblocks), "must be <= 2097120 (grid.y)");
  const int64_t ld = ld_src == 0 ? kblocks : ld_src;
  if (ld < kblocks) fail("ld_src=" + std::to_string(ld_src), "must be >= kblocks=" + std::to_string(kblocks));
  if (src == nullptr) fail("src=nullptr", "must not be null");
  if (dst == nullptr) fail("dst=nullptr", "must not be null");
  if (reinterpret_cast<uintptr_t>(src) % 4 != 0) fail("src=" + detail::format_pointer(src), "must be 4-byte aligned (FP32)");
  if (reinterpret_cast<uintptr_t>(dst) % 16 != 0) {
    fail("dst=" + detail::format_pointer(dst), "must be 16-byte aligned (TMA reads SFA)");
  }
  const cudaError_t e = kernels::quant::run_sfa_to_mn_major(src, M, kblocks, ld, dst, stream);
  if (e != cudaSuccess) throw_cuda("transform_sfa_to_mn_major", e);
}

}  // namespace mxgemm
