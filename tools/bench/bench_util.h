// mxgemm-bench helpers beside bench.h: device buffers, fast random inputs, verification metrics, the table
// printer and the JSON writer. Used by every mode file (bench_gemm.cu, bench_quantize.cu, ...).
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bench.h"

namespace mxgemm::bench {

// "Not measured": rows keep NaN in mxgemm_us / peers / extra; the JSON writer writes null for it.
inline constexpr double kNotRun = std::numeric_limits<double>::quiet_NaN();

// Owning device allocation (cudaMalloc; no managed memory). Movable, not copyable.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }
  void upload(const void* host, size_t bytes, size_t offset = 0);
  void download(void* host, size_t bytes, size_t offset = 0) const;
  void fill(uint8_t byte);  // synchronous memset (poisoning outputs before a checked run)

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Deterministic fast generator (splitmix64).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal();                                                             // Box-Muller

 private:
  uint64_t s_;
};

// e4m3 bytes of sigma * N(0,1) values (rules::e4m3_satfinite, so RNE + satfinite), n of them.
std::vector<uint8_t> random_e4m3(size_t n, double sigma, uint64_t seed);
// n random positive finite FP32 scales in [lo, hi) (log-uniform). Never zero.
std::vector<float> random_scales(size_t n, float lo, float hi, uint64_t seed);

// ‖out − ref‖₂ / ‖ref‖₂ over n values; NaN in out (or a non-finite value) gives +Inf.
double rel_error(const float* out, const double* ref, size_t n);

// Current device: name, SM count, compute capability. Throws via check_cuda when no device is usable.
struct DeviceDesc {
  std::string name;
  int cc_major = 0, cc_minor = 0, sms = 0;
  double mem_gib = 0;
};
DeviceDesc describe_device();

// Table printed to stdout: one line per row, peers and a few extras as columns.
void print_table(const std::vector<BenchRow>& rows);

// The JSON file: {"device", "date", "git", "command", <meta...>, "rows": [...]}. Throws on I/O error.
struct RunMeta {
  std::string device, date, git, command;
  std::vector<std::pair<std::string, std::string>> strings;  // more top-level string fields
  std::vector<std::pair<std::string, double>> numbers;       // more top-level numeric fields (ceilings ...)
};
std::string to_json(const RunMeta& meta, const std::vector<BenchRow>& rows);
void write_json(const std::string& path, const RunMeta& meta, const std::vector<BenchRow>& rows);
std::string json_escape(const std::string& s);

}  // namespace mxgemm::bench
