// Columnwise standalone quantizer instantiations (kernels in quantize_kernels.cuh) and the SFA transform.
#include "kernels/quantize_kernels.cuh"
#include "kernels/quantize_launch.h"

namespace mxgemm::kernels::quant {

cudaError_t run_colwise(InputType type, const QuantParams& p, const OutputSpec& out, int num_sms, const Tuning& t,
                        cudaStream_t stream) {
  QuantParams q = p;
  q.raster_n = t.raster > 0 ? t.raster : 0;  // 0: each kernel's default, 1 KB of each input row
  if (type == InputType::kFP32) {
    return dispatch_format(out, [&]<class Pol>() { return launch_colwise<InFP32, Pol>(q, num_sms, t.waves, t.stages, t.tile, stream); });
  }
  return dispatch_format(out, [&]<class Pol>() { return launch_colwise<InBF16, Pol>(q, num_sms, t.waves, t.stages, t.tile, stream); });
}

cudaError_t run_sfa_to_mn_major(const float* src, int64_t M, int64_t kblocks, int64_t ld_src, float* dst,
                                cudaStream_t stream) {
  const int64_t ldm = mn_major_ld(M);
  const dim3 grid(static_cast<unsigned>((ldm + 31) / 32), static_cast<unsigned>((kblocks + 31) / 32));
  sfa_to_mn_major_kernel<><<<grid, dim3(32, 8), 0, stream>>>(src, M, kblocks, ld_src, dst, ldm);
  return cudaGetLastError();
}

}  // namespace mxgemm::kernels::quant
