// Uses the installed mxgemm package from the host side only: argument validation, the CPU reference quantizer
// and GEMM. Exits 0 when all results are as the data contract (FORMAT.md) says.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <mxgemm/format_rules.h>
#include <mxgemm/mxgemm.h>
#include <mxgemm/reference.h>

int main() {
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    failures += ok ? 0 : 1;
  };

  // 1. Validation rejects K = 4100 with a message naming the argument, the value and the rule.
  mxgemm::GemmNTArgs args;
  args.M = 128;
  args.N = 256;
  args.K = 4100;
  alignas(16) static unsigned char fake_device_memory[64];  // validate() never dereferences pointers
  args.a = args.b = fake_device_memory;
  args.sfa = args.sfb = reinterpret_cast<const float*>(fake_device_memory);
  args.out.format = mxgemm::OutFormat::kMXFP8;
  args.out.data = args.out.scales = fake_device_memory;
  try {
    mxgemm::validate(args, mxgemm::DeviceInfo{});
    check(false, "validate rejects K=4100");
  } catch (const mxgemm::Error& e) {
    std::printf("      validate: %s\n", e.what());
    check(std::string(e.what()).find("K=4100") != std::string::npos, "validate rejects K=4100");
  }

  // 2. Reference MXFP8 quantizer (RCEIL): 32 ones and one 500 -> scale 2 (byte 128), 500 -> 250 (e4m3 0x78).
  std::vector<float> x(32, 1.0f);
  x[0] = 500.0f;
  std::vector<uint8_t> q(32), scales(1);
  mxgemm::OutputSpec out;
  out.format = mxgemm::OutFormat::kMXFP8;
  out.data = q.data();
  out.scales = scales.data();
  mxgemm::reference::quantize(x.data(), 1, 32, 0, out);
  check(scales[0] == 128 && q[0] == 0x78 && q[1] == 0x30, "reference mxfp8 quantize");

  // 3. Reference GEMM: 1x1x32 of ones times twos with unit scales is 64.
  std::vector<uint8_t> a(32, 0x38), b(32, 0x40);  // e4m3 1.0 and 2.0
  std::vector<float> sfa(4, 1.0f), sfb(1, 1.0f);
  const auto d = mxgemm::reference::gemm_nt(1, 1, 32, a.data(), 0, sfa.data(), 0, b.data(), 0, sfb.data());
  check(d.size() == 1 && d[0] == 64.0, "reference gemm_nt");

  // 4. The GPU query never crashes: a device, or a clear kUnsupported error on a machine without one.
  try {
    const mxgemm::DeviceInfo dev = mxgemm::current_device_info();
    std::printf("      device: compute capability %d.%d, %d SMs\n", dev.cc_major, dev.cc_minor, dev.num_sms);
    check(true, "current_device_info");
  } catch (const mxgemm::Error& e) {
    std::printf("      %s\n", e.what());
    check(e.code() == mxgemm::ErrorCode::kUnsupported, "current_device_info without a GPU");
  }
  return failures == 0 ? 0 : 1;
}
