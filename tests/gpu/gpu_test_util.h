// Small helpers shared by the GPU test suites: device buffers, the "no SM90 GPU -> skip" guard, fills.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "mxgemm/format_rules.h"
#include "mxgemm/mxgemm.h"

namespace mxgemm::testing {

inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Skips the test unless an SM90 device is present (CI has no GPU).
#define MXGEMM_REQUIRE_SM90()                                                          \
  do {                                                                                 \
    try {                                                                              \
      const ::mxgemm::DeviceInfo dev_ = ::mxgemm::current_device_info();               \
      if (dev_.cc_major != 9 || dev_.cc_minor != 0) GTEST_SKIP() << "not an SM90 GPU"; \
    } catch (const ::mxgemm::Error& e_) {                                              \
      GTEST_SKIP() << e_.what();                                                       \
    }                                                                                  \
  } while (0)

// A device allocation with `guard` extra bytes after the payload, filled with a poison byte so that tests can
// check both "every byte written" and "nothing written past the end".
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes, size_t guard = 256) : bytes_(bytes), guard_(guard) {
    cuda_check(cudaMalloc(&ptr_, bytes_ + guard_ + 16), "cudaMalloc");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    std::swap(guard_, o.guard_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  void poison(uint8_t byte) const { cuda_check(cudaMemset(ptr_, byte, bytes_ + guard_), "cudaMemset"); }
  template <class T>
  void upload(const std::vector<T>& host) const {
    cuda_check(cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<uint8_t> download_all() const {  // payload + guard
    std::vector<uint8_t> h(bytes_ + guard_);
    cuda_check(cudaMemcpy(h.data(), ptr_, h.size(), cudaMemcpyDeviceToHost), "download");
    return h;
  }
  bool guard_intact(uint8_t poison_byte) const {
    const std::vector<uint8_t> h = download_all();
    for (size_t i = bytes_; i < h.size(); ++i)
      if (h[i] != poison_byte) return false;
    return true;
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0, guard_ = 0;
};

// e4m3 bytes of small integers in [-2, 2]: products and sums stay exact in FP32 (the bit-exact oracle).
inline std::vector<uint8_t> exact_e4m3(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-2, 2);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = rules::e4m3_satfinite(static_cast<float>(d(rng)));
  return v;
}

// Power-of-two scales 2^[lo, hi]: exact multipliers.
inline std::vector<float> pow2_scales(size_t n, std::mt19937& rng, int lo = -3, int hi = 3) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = std::ldexp(1.0f, d(rng));
  return v;
}

// e4m3 bytes of normally distributed values (random-input tests), never all zero.
inline std::vector<uint8_t> random_e4m3(size_t n, std::mt19937& rng, float sigma = 1.0f) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = rules::e4m3_satfinite(d(rng));
  return v;
}

inline std::vector<float> random_scales(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(0.25f, 4.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace mxgemm::testing
