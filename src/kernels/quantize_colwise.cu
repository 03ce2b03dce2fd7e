// Columnwise standalone quantizer instantiations (kernels in quantize_kernels.cuh), their tensor maps, and the SFA
// transform.
#include <cudaTypedefs.h>

#include <string>

#include "kernels/quantize_kernels.cuh"
#include "kernels/quantize_launch.h"

namespace mxgemm::kernels::quant {

CUtensorMap colwise_tensor_map(const char* what, const void* base, int elem_bytes, int64_t rows, int64_t cols,
                               int64_t ld, int box_rows, int box_cols, int swizzle_bytes, int l2promo) {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = []() -> PFN_cuTensorMapEncodeTiled_v12000 {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult status{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &status) !=
            cudaSuccess ||
        status != cudaDriverEntryPointSuccess) {
      return nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  }();
  if (encode == nullptr) {
    throw Error(ErrorCode::kCudaError, "cuTensorMapEncodeTiled: driver entry point not available (driver too old?)");
  }
  CUtensorMap map{};
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * static_cast<cuuint64_t>(elem_bytes)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUtensorMapL2promotion promo = l2promo == 1   ? CU_TENSOR_MAP_L2_PROMOTION_NONE
                                       : l2promo == 2 ? CU_TENSOR_MAP_L2_PROMOTION_L2_64B
                                       : l2promo == 3 ? CU_TENSOR_MAP_L2_PROMOTION_L2_128B
                                                      : CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  const CUresult res = encode(&map, elem_bytes == 1 ? CU_TENSOR_MAP_DATA_TYPE_UINT8 : CU_TENSOR_MAP_DATA_TYPE_UINT16, 2,
                              const_cast<void*>(base), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                              swizzle_bytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE, promo,
                              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (res != CUDA_SUCCESS) {
    throw Error(ErrorCode::kCudaError, std::string("cuTensorMapEncodeTiled failed for ") + what + " (CUresult " +
                                           std::to_string(static_cast<int>(res)) + ", rows=" + std::to_string(rows) +
                                           ", cols=" + std::to_string(cols) + ", ld=" + std::to_string(ld) + ")");
  }
  return map;
}

cudaError_t run_colwise(InputType type, const QuantParams& p, const OutputSpec& out, int num_sms, const Tuning& t,
                        cudaStream_t stream) {
  QuantParams q = p;
  q.raster_n = t.raster > 0 ? t.raster : 0;  // 0: each kernel's default, 1 KB of each input row
  q.evict_first = t.evict == 1;
  q.scales_evict_last = t.scale_hint == 0;
  q.loads_evict_first = t.load_hint == 1;
  if (type == InputType::kFP32) {
    return dispatch_format(out, [&]<class Pol>() { return launch_colwise<InFP32, Pol>(q, num_sms, t, stream); });
  }
  return dispatch_format(out, [&]<class Pol>() { return launch_colwise<InBF16, Pol>(q, num_sms, t, stream); });
}

cudaError_t run_sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src, float* dst,
                                cudaStream_t stream) {
  const int64_t ldm = mn_major_ld(M);
  const dim3 grid(static_cast<unsigned>((ldm + 31) / 32), static_cast<unsigned>((kblocks + 31) / 32));
  sfa_to_mn_major_kernel<><<<grid, dim3(32, 8), 0, stream>>>(src, M, kblocks, ld_src, dst, ldm);
  return cudaGetLastError();
}

}  // namespace mxgemm::kernels::quant
