#include "host/tensor_map.h"

#include <cuda_runtime_api.h>
#include <cudaTypedefs.h>

#include <string>

#include "mxgemm/mxgemm.h"

namespace mxgemm::host {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_tiled_fn() {
  // Resolved once; the pointer stays valid for the process lifetime.
  static PFN_cuTensorMapEncodeTiled_v12000 fn = []() -> PFN_cuTensorMapEncodeTiled_v12000 {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult status{};
    const cudaError_t err =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &status);
    if (err != cudaSuccess || status != cudaDriverEntryPointSuccess || ptr == nullptr) return nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  }();
  if (fn == nullptr)
    throw Error(ErrorCode::kCudaError, "cuTensorMapEncodeTiled: driver entry point not available (driver too old?)");
  return fn;
}

CUtensorMapDataType data_type(int elem_bytes) {
  switch (elem_bytes) {
    case 1: return CU_TENSOR_MAP_DATA_TYPE_UINT8;
    case 2: return CU_TENSOR_MAP_DATA_TYPE_UINT16;
    default: return CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  }
}

CUtensorMapSwizzle swizzle_mode(int bytes) {
  switch (bytes) {
    case 32: return CU_TENSOR_MAP_SWIZZLE_32B;
    case 64: return CU_TENSOR_MAP_SWIZZLE_64B;
    case 128: return CU_TENSOR_MAP_SWIZZLE_128B;
    default: return CU_TENSOR_MAP_SWIZZLE_NONE;
  }
}

}  // namespace

CUtensorMap make_tensor_map_2d(const char* what, const void* base, int elem_bytes, int64_t rows, int64_t cols,
                               int64_t ld, int box_rows, int box_cols, int swizzle_bytes) {
  CUtensorMap map{};
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * static_cast<cuuint64_t>(elem_bytes)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult res = encode_tiled_fn()(&map, data_type(elem_bytes), 2, const_cast<void*>(base), dims, strides, box,
                                         elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle_mode(swizzle_bytes),
                                         CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (res != CUDA_SUCCESS)
    throw Error(ErrorCode::kCudaError, std::string("cuTensorMapEncodeTiled failed for ") + what + " (CUresult " +
                                           std::to_string(static_cast<int>(res)) + ", rows=" + std::to_string(rows) +
                                           ", cols=" + std::to_string(cols) + ", ld=" + std::to_string(ld) + ")");
  return map;
}

}  // namespace mxgemm::host
