// Rowwise standalone quantizer instantiations for bf16 input (kernels in quantize_kernels.cuh).
#include "kernels/quantize_kernels.cuh"
#include "kernels/quantize_launch.h"

namespace mxgemm::kernels::quant {

cudaError_t run_rowwise_bf16(const QuantParams& p, const OutputSpec& out, int num_sms, const Tuning& t,
                             cudaStream_t stream) {
  return dispatch_format(out, [&]<class Pol>() { return launch_rowwise<InBF16, Pol>(p, num_sms, t.unroll, t.waves, stream); });
}

}  // namespace mxgemm::kernels::quant
