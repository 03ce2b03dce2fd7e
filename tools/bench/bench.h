// mxgemm-bench shared pieces: timing with L2 flush, result rows, JSON. Each mode (gemm, quantize, ...) lives in
// its own file and returns rows; main.cpp parses flags, runs the modes, prints the table and writes the JSON.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mxgemm::bench {

struct BenchRow {
  std::string op;       // "gemm_nt", "quantize", "quantize_colwise", "grouped_contiguous", ...
  long M = 0, N = 0, K = 0;
  std::string format;   // "bf16", "mxfp8", "mxfp8_blocked", "mxfp8_floor", "g128_fp32", "g128_ue8m0", ...
  double mxgemm_us = 0;
  std::map<std::string, double> peers;  // name -> µs, measured in the same run
  std::map<std::string, double> extra;  // TFLOP/s, GB/s, speedups, ...
  bool verified = false;               // output checked against the CPU reference in this run
  std::string note;                    // why a column or the row was not run, fallbacks used ("" when none)
};

struct BenchContext {
  cudaStream_t stream = nullptr;
  int warmup = 5;
  int iters = 30;
  int rounds = 5;  // interleaved rounds per measurement in gemm mode (median over rounds)
  bool verify = true;
};

// Median kernel time in microseconds of fn() enqueued on ctx.stream: L2 flushed (256 MB memset) before each
// call, CUDA events around the call alone, after ctx.warmup untimed calls.
// Measured on the H100 (2026-11-25): events around one launch read ~3 µs (small shapes) to ~6 µs (large) more
// than the profiler's kernel time of the same call (cuBLASLt 128x7168x2048: 14.4 µs here vs 11.2 µs in peers.py,
// same machine, same run); compare with PEERS.md's profiler numbers with that in mind.
double time_us(const BenchContext& ctx, const std::function<void()>& fn);

// Throws std::runtime_error with the call text on a CUDA error.
void check_cuda(cudaError_t e, const char* what);

}  // namespace mxgemm::bench
