// Small pieces of the public API shared by every entry point: enum names, scale-buffer sizes, device query.

#include <atomic>
#include <string>

#include <cuda_runtime_api.h>

#include "mxgemm/mxgemm.h"

namespace mxgemm {

const char* to_string(OutFormat f) {
  switch (f) {
    case OutFormat::kBF16: return "bf16";
    case OutFormat::kMXFP8: return "mxfp8";
    case OutFormat::kG128FP32: return "g128_fp32";
    case OutFormat::kG128UE8M0: return "g128_ue8m0";
  }
  return "invalid";  // an out-of-range value cast into the enum: validate() reports the number
}

const char* to_string(ScaleRule r) {
  switch (r) {
    case ScaleRule::kRCEIL: return "rceil";
    case ScaleRule::kFLOOR: return "floor";
  }
  return "invalid";
}

const char* to_string(ScaleLayout l) {
  switch (l) {
    case ScaleLayout::kCompact: return "compact";
    case ScaleLayout::kBlocked128x4: return "blocked128x4";
  }
  return "invalid";
}

int group_size(OutFormat f) {
  switch (f) {
    case OutFormat::kBF16: return 0;
    case OutFormat::kMXFP8: return 32;
    case OutFormat::kG128FP32:
    case OutFormat::kG128UE8M0: return 128;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "group_size: format=" + std::to_string(static_cast<int>(f)) + ": not a valid OutFormat (0..3)");
}

int64_t scale_elements(OutFormat f, ScaleLayout layout, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) {
    throw Error(ErrorCode::kInvalidArgument, "scale_elements: rows=" + std::to_string(rows) +
                                                 ", cols=" + std::to_string(cols) + ": must be >= 0");
  }
  const int group = group_size(f);
  if (group == 0) return 0;  // bf16 carries no scales
  const int64_t groups_per_row = (cols + group - 1) / group;
  if (f == OutFormat::kMXFP8) {
    if (layout == ScaleLayout::kBlocked128x4) return (rows + 127) / 128 * 128 * ((groups_per_row + 3) / 4 * 4);
    return rows * groups_per_row;
  }
  return groups_per_row * mn_major_ld(rows);  // g128: MN-major, like SFA
}

DeviceInfo current_device_info() {
  // Runtime errors here are the "no GPU / no driver" case on CPU-only machines (CI): report them as kUnsupported
  // and clear the runtime's last error so that a later, unrelated CUDA call does not see a stale failure.
  int device = -1;
  cudaError_t status = cudaGetDevice(&device);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(ErrorCode::kUnsupported, std::string("no usable CUDA device (cudaGetDevice: ") +
                                             cudaGetErrorName(status) + ": " + cudaGetErrorString(status) +
                                             "); mxgemm needs an SM90 (Hopper) GPU");
  }
  // This runs before every launch: a device's attributes never change, so they are read once per device and
  // cached (attributes rather than cudaGetDeviceProperties, which fills and on some drivers computes the whole
  // property struct). Racing first calls store the same values.
  constexpr int kMaxCachedDevices = 64;
  static DeviceInfo cache[kMaxCachedDevices];
  static std::atomic<bool> cached[kMaxCachedDevices];
  const bool cacheable = device >= 0 && device < kMaxCachedDevices;
  if (cacheable && cached[device].load(std::memory_order_acquire)) return cache[device];
  DeviceInfo info;
  const cudaDeviceAttr attrs[3] = {cudaDevAttrComputeCapabilityMajor, cudaDevAttrComputeCapabilityMinor,
                                   cudaDevAttrMultiProcessorCount};
  int* targets[3] = {&info.cc_major, &info.cc_minor, &info.num_sms};
  for (int i = 0; i < 3; ++i) {
    status = cudaDeviceGetAttribute(targets[i], attrs[i], device);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      throw Error(ErrorCode::kUnsupported, std::string("cannot query CUDA device ") + std::to_string(device) +
                                               " (cudaDeviceGetAttribute: " + cudaGetErrorName(status) + ": " +
                                               cudaGetErrorString(status) + ")");
    }
  }
  if (cacheable) {
    cache[device] = info;
    cached[device].store(true, std::memory_order_release);
  }
  return info;
}

}  // namespace mxgemm
