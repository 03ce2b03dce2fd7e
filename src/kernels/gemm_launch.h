// Launchers of the SM90 FP8 GEMM, one per (tile config, epilogue) compiled into the library ahead of time.
// Host-only declarations: host dispatch includes this without seeing any device code.
#pragma once

#include <cuda_runtime_api.h>

#include "mxgemm/mxgemm.h"

namespace mxgemm::kernels {

// Epilogue kinds known to the dispatcher (one instantiated policy type each, see epilogues.cuh).
enum class EpilogueKind : int {
  kBF16,
  kMXFP8RceilCompact,
  kMXFP8RceilBlocked,
  kMXFP8FloorCompact,
  kMXFP8FloorBlocked,
  kG128FP32,
  kG128UE8M0,
  kCount
};

// A validated dense problem with every default filled in (lda, ldb, ldsfa, ldd set).
struct DenseProblem {
  GemmNTArgs args;
  int num_sms;
  bool debug = false;  // print the launch shape (MXGEMM_DEBUG=1)
};

using GemmLauncher = void (*)(const DenseProblem&, cudaStream_t);

// The launcher for (block_m, block_n, cluster_m, cluster_n, split_k, epilogue), or nullptr if that combination is not
// compiled in. cluster_m / cluster_n: CTAs per cluster along M (sharing B) / along N (sharing A); at most one of them
// is 2. split_k: CTAs (one cluster) computing each output tile over shares of K (1 = no split).
GemmLauncher find_gemm_launcher(int block_m, int block_n, int cluster_m, int cluster_n, int split_k,
                                EpilogueKind epilogue);

}  // namespace mxgemm::kernels
