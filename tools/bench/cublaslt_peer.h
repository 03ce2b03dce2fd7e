// The cuBLASLt peer of mxgemm-bench: cuBLASLt's FP8 GEMM with our recipe (FORMAT.md §1), BF16 out:
//   D(bf16)[M,N] = (A[M,K] e4m3 * 1x128 FP32 scales) . (B[N,K] e4m3 * 128x128 FP32 scales)^T
// Measured on the H100 here (cuBLASLt 13.1.0, 2026-11-25): the weights-first order (A = BLK128x128, op T;
// B = VEC128) is refused (NOT_SUPPORTED); activations-first (A = our A with VEC128 scales, op T; B = our B with
// BLK128x128, op N) runs and writes D column-major, i.e. D^T row-major. Its 1x128 scales are our MN-major SFA;
// its 128x128 scales are [ceil(N/128)][pad(ceil(K/128), 4)] (K blocks padded to 4), matched to 1.7e-3 (bf16 RN).
// through CUDA 13's block-scaling modes (CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F / _BLK128x128_32F), plus the
// copy ceiling. cuBLASLt is column-major: our row-major D[M,N] is its column-major D^T[N,M] = B . A^T, so by
// default the weights B are cuBLASLt's "A" (op T, 128x128 scales) and the activations A its "B" (op N, 1x128
// scales). Which operand order and which scale layouts cuBLASLt really uses are not taken on faith: calibrate()
// runs small problems against the CPU reference (reference::gemm_nt) and keeps the combination that matches.
// If cuBLASLt refuses block scaling, the peer falls back to row-wise (OUTER_VEC_32F) and then tensor-wise scales
// with unit scales (same data movement and MMA work, different math), under another peer name, unverified.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "bench_util.h"

namespace mxgemm::bench {

enum class LtRecipe { kBlockwise = 0, kRowwise = 1, kTensorwise = 2 };

// Where a scale (our index) goes in the buffer cuBLASLt reads.
enum class LtSfaLayout { kMnMajorPad4 = 0, kMnMajor = 1, kKMajor = 2 };                   // 1x128 scales
enum class LtSfbLayout { kKbInner = 0, kNbInner = 1, kNbInnerPad4 = 2, kKbInnerPad4 = 3 };  // 128x128 scales
const char* to_string(LtSfaLayout l);
const char* to_string(LtSfbLayout l);

struct LtConfig {
  LtRecipe recipe = LtRecipe::kBlockwise;
  bool weights_first = true;  // cuBLASLt A = our B (D row-major [M,N]); false: A = our A (D comes out [N,M])
  LtSfaLayout sfa = LtSfaLayout::kMnMajorPad4;
  LtSfbLayout sfb = LtSfbLayout::kKbInner;
  bool verified = false;      // calibrate() matched the CPU reference with this config
};

class CublasLtPeer;

// One GEMM problem bound to device buffers: descriptors, the heuristic's algorithm and the scales converted to
// cuBLASLt's layout, all made once outside the timed region; run() only enqueues cublasLtMatmul.
class LtGemm {
 public:
  // Device pointers in our layouts (GemmNTArgs defaults): a [M,K], sfa MN-major [ceil(K/128)][pad(M,4)],
  // b [N,K], sfb row-major [ceil(N/128)][ceil(K/128)]; d bf16, M*N elements. Throws std::runtime_error when
  // cuBLASLt refuses the problem.
  LtGemm(CublasLtPeer& peer, const LtConfig& cfg, int64_t M, int64_t N, int64_t K, const void* a, const float* sfa,
         const void* b, const float* sfb, void* d);
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  void run(cudaStream_t stream) const;
  void poison_output() const;  // fill D (cuBLASLt's own padded buffer where there is one) with bf16 NaN
  // D as row-major [M, N] floats on the host (transposes when !weights_first).
  std::vector<float> download_rows(const std::vector<int64_t>& rows) const;
  const LtConfig& config() const { return cfg_; }

 private:
  CublasLtPeer& peer_;
  LtConfig cfg_;
  int64_t M_, N_, K_;
  int64_t Mp_;  // rows cuBLASLt computes: M, or pad(M,16) when the activations are its "A" (D's column pitch
                // is M bf16 = must be 16-byte aligned; at M=1 cuBLASLt 13.1 accepted ld=1 and returned garbage)
  const void* a_;
  const void* b_;
  void* d_;
  DeviceBuffer sfa_buf_, sfb_buf_, a_pad_, d_pad_;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, ld_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
};

class CublasLtPeer {
 public:
  explicit CublasLtPeer(size_t workspace_bytes = size_t(32) << 20);
  ~CublasLtPeer();
  CublasLtPeer(const CublasLtPeer&) = delete;
  CublasLtPeer& operator=(const CublasLtPeer&) = delete;

  // Finds the config (operand order, scale layouts; else a fallback recipe) on small shapes checked against the
  // CPU reference. Returns a human-readable log; config() holds the choice afterwards.
  std::string calibrate(cudaStream_t stream);
  const LtConfig& config() const { return cfg_; }
  // Peer name in the bench rows: "cublaslt" (blockwise, verified), "cublaslt_blockwise_unverified",
  // "cublaslt_rowwise", "cublaslt_tensorwise".
  std::string peer_name() const;

  cublasLtHandle_t handle() const { return handle_; }
  void* workspace() const { return workspace_.get(); }
  size_t workspace_bytes() const { return workspace_.bytes(); }
  const float* ones() const { return ones_.as<float>(); }  // >= 16384 floats of 1.0 on the device

 private:
  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_, ones_;
  LtConfig cfg_;
};

// Device-to-device cudaMemcpyAsync of `bytes`, timed with time_us: TB/s counting bytes read plus written.
double copy_ceiling_TBps(const BenchContext& ctx, size_t bytes = size_t(1) << 30);

// cuBLASLt FP8 (peer config) on M=N=K=n random inputs: TFLOP/s.
double cublaslt_ceiling_TFLOPs(const BenchContext& ctx, CublasLtPeer& peer, int64_t n = 8192);

// Sampled verification rows for an M-row output: up to `count` distinct rows spread over [0, M), first and last
// included.
std::vector<int64_t> sample_rows(int64_t M, int count = 8);

// CPU reference (reference::gemm_nt) of the given rows of D = A . B^T, from host copies in our layouts (A [M,K],
// SFA MN-major with ld pad(M,4), B [N,K], SFB row-major). Returns rows.size() x N doubles.
std::vector<double> reference_rows(int64_t M, int64_t N, int64_t K, const uint8_t* a, const float* sfa,
                                   const uint8_t* b, const float* sfb, const std::vector<int64_t>& rows);

}  // namespace mxgemm::bench
