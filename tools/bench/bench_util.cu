// mxgemm-bench shared pieces: timing with an L2 flush, device buffers, random inputs, metrics, table, JSON.
#include "bench_util.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "mxgemm/format_rules.h"

namespace mxgemm::bench {

// ---------------------------------------------------------------------------------------------------------------
// Errors and timing

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

namespace {
constexpr size_t kFlushBytes = size_t(256) << 20;  // > 50 MB L2 of an H100 (60 MB on H200) several times over

DeviceBuffer& flush_buffer() {
  static DeviceBuffer buf(kFlushBytes);
  return buf;
}
}  // namespace

double time_us(const BenchContext& ctx, const std::function<void()>& fn) {
  DeviceBuffer& flush = flush_buffer();
  cudaStream_t s = ctx.stream;
  for (int i = 0; i < ctx.warmup; ++i) {
    check_cuda(cudaMemsetAsync(flush.get(), i & 0xff, kFlushBytes, s), "time_us: flush memset");
    fn();
  }
  check_cuda(cudaGetLastError(), "time_us: warmup launch");
  const int iters = std::max(1, ctx.iters);
  std::vector<cudaEvent_t> ev(2 * static_cast<size_t>(iters));
  for (auto& e : ev) check_cuda(cudaEventCreate(&e), "time_us: cudaEventCreate");
  std::vector<float> ms(iters);
  try {
    for (int i = 0; i < iters; ++i) {
      // A different byte each time, so that no layer can skip the memset as redundant.
      check_cuda(cudaMemsetAsync(flush.get(), (i + 1) & 0xff, kFlushBytes, s), "time_us: flush memset");
      check_cuda(cudaEventRecord(ev[2 * i], s), "time_us: cudaEventRecord");
      fn();
      check_cuda(cudaEventRecord(ev[2 * i + 1], s), "time_us: cudaEventRecord");
    }
    check_cuda(cudaGetLastError(), "time_us: timed launch");
    check_cuda(cudaStreamSynchronize(s), "time_us: cudaStreamSynchronize");
    for (int i = 0; i < iters; ++i) {
      check_cuda(cudaEventElapsedTime(&ms[i], ev[2 * i], ev[2 * i + 1]), "time_us: cudaEventElapsedTime");
    }
  } catch (...) {
    for (auto& e : ev) cudaEventDestroy(e);
    throw;
  }
  for (auto& e : ev) cudaEventDestroy(e);
  std::sort(ms.begin(), ms.end());
  const double med = (iters % 2) ? ms[iters / 2] : 0.5 * (static_cast<double>(ms[iters / 2 - 1]) + ms[iters / 2]);
  return med * 1e3;
}

// ---------------------------------------------------------------------------------------------------------------
// DeviceBuffer

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes_ > 0) check_cuda(cudaMalloc(&ptr_, bytes_), "cudaMalloc");
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}
void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  if (offset + bytes > bytes_) throw std::runtime_error("DeviceBuffer::upload out of range");
  check_cuda(cudaMemcpy(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice), "upload");
}
void DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  if (offset + bytes > bytes_) throw std::runtime_error("DeviceBuffer::download out of range");
  check_cuda(cudaMemcpy(host, static_cast<const char*>(ptr_) + offset, bytes, cudaMemcpyDeviceToHost), "download");
}
void DeviceBuffer::fill(uint8_t byte) {
  if (bytes_ == 0) return;
  check_cuda(cudaMemset(ptr_, byte, bytes_), "cudaMemset");
  check_cuda(cudaDeviceSynchronize(), "cudaMemset sync");
}

// ---------------------------------------------------------------------------------------------------------------
// Random inputs

double Rng::normal() {
  double u1 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

std::vector<uint8_t> random_e4m3(size_t n, double sigma, uint64_t seed) {
  // A 64K-entry table of e4m3(sigma * N(0,1)) draws, indexed by 16-bit random words: fast enough for the 16M
  // elements of the large shapes, and the value distribution is that of the table (65536 normal draws).
  Rng rng(seed);
  std::vector<uint8_t> table(65536);
  for (auto& t : table) t = rules::e4m3_satfinite(static_cast<float>(sigma * rng.normal()));
  std::vector<uint8_t> out(n);
  size_t i = 0;
  while (i < n) {
    uint64_t r = rng.next();
    for (int j = 0; j < 4 && i < n; ++j, ++i, r >>= 16) out[i] = table[r & 0xffff];
  }
  return out;
}

std::vector<float> random_scales(size_t n, float lo, float hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> out(n);
  const double l = std::log(static_cast<double>(lo)), h = std::log(static_cast<double>(hi));
  for (auto& v : out) v = static_cast<float>(std::exp(l + (h - l) * rng.uniform()));
  return out;
}

double rel_error(const float* out, const double* ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(out[i])) return std::numeric_limits<double>::infinity();
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (den == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

DeviceDesc describe_device() {
  int dev = 0;
  check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp p{};
  check_cuda(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  DeviceDesc d;
  d.name = p.name;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.sms = p.multiProcessorCount;
  d.mem_gib = static_cast<double>(p.totalGlobalMem) / (1ull << 30);
  return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Table

namespace {
std::string fmt_num(double v, const char* f = "%.1f") {
  if (!std::isfinite(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
double get(const std::map<std::string, double>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? kNotRun : it->second;
}
}  // namespace

void print_table(const std::vector<BenchRow>& rows) {
  // Peer columns: the union of peer names in row order of first appearance.
  std::vector<std::string> peers;
  for (const auto& r : rows)
    for (const auto& [k, v] : r.peers)
      if (std::find(peers.begin(), peers.end(), k) == peers.end()) peers.push_back(k);
  std::printf("\n%-20s %-20s %-14s %9s", "op", "MxNxK", "format", "mxgemm_us");
  for (const auto& p : peers) std::printf(" %*s", std::max<int>(9, static_cast<int>(p.size())), p.c_str());
  std::printf(" %8s %8s %8s %8s %6s %s\n", "floor_us", "TFLOP/s", "GB/s", "speedup", "verif", "note");
  for (const auto& r : rows) {
    char shape[64];
    if (r.K > 0)
      std::snprintf(shape, sizeof shape, "%ldx%ldx%ld", r.M, r.N, r.K);
    else if (r.M > 0 || r.N > 0)
      std::snprintf(shape, sizeof shape, "%ldx%ld", r.M, r.N);
    else
      std::snprintf(shape, sizeof shape, "-");
    std::string note = r.note;
    std::replace(note.begin(), note.end(), '\n', ' ');
    std::printf("%-20s %-20s %-14s %9s", r.op.c_str(), shape, r.format.c_str(), fmt_num(r.mxgemm_us).c_str());
    for (const auto& p : peers) {
      std::printf(" %*s", std::max<int>(9, static_cast<int>(p.size())), fmt_num(get(r.peers, p)).c_str());
    }
    double speed = get(r.extra, "speedup_vs_cublaslt_plus_quant");
    if (!std::isfinite(speed)) speed = get(r.extra, "speedup");
    std::printf(" %8s %8s %8s %8s %6s %s\n", fmt_num(get(r.extra, "floor_us")).c_str(),
                fmt_num(get(r.extra, "tflops"), "%.0f").c_str(), fmt_num(get(r.extra, "gbps"), "%.0f").c_str(),
                fmt_num(speed, "%.2fx").c_str(), r.verified ? "yes" : "no", note.c_str());
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------------------------
// JSON (hand-written: strings escaped per RFC 8259, non-finite numbers as null)

std::string json_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

namespace {
std::string jstr(const std::string& s) { return "\"" + json_escape(s) + "\""; }
std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}
std::string jmap(const std::map<std::string, double>& m) {
  std::string o = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    o += (first ? "" : ", ") + jstr(k) + ": " + jnum(v);
    first = false;
  }
  return o + "}";
}
}  // namespace

std::string to_json(const RunMeta& meta, const std::vector<BenchRow>& rows) {
  std::ostringstream o;
  o << "{\n  \"device\": " << jstr(meta.device) << ",\n  \"date\": " << jstr(meta.date)
    << ",\n  \"git\": " << jstr(meta.git) << ",\n  \"command\": " << jstr(meta.command);
  for (const auto& [k, v] : meta.strings) o << ",\n  " << jstr(k) << ": " << jstr(v);
  for (const auto& [k, v] : meta.numbers) o << ",\n  " << jstr(k) << ": " << jnum(v);
  o << ",\n  \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    o << (i ? ",\n" : "\n") << "    {\"op\": " << jstr(r.op) << ", \"M\": " << r.M << ", \"N\": " << r.N
      << ", \"K\": " << r.K << ", \"format\": " << jstr(r.format) << ", \"mxgemm_us\": " << jnum(r.mxgemm_us)
      << ", \"peers\": " << jmap(r.peers) << ", \"verified\": " << (r.verified ? "true" : "false");
    // Extra fields sit beside the fixed ones (schema: "...extra fields").
    for (const auto& [k, v] : r.extra) o << ", " << jstr(k) << ": " << jnum(v);
    if (!r.note.empty()) o << ", \"note\": " << jstr(r.note);
    o << "}";
  }
  o << (rows.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return o.str();
}

void write_json(const std::string& path, const RunMeta& meta, const std::vector<BenchRow>& rows) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path + " for writing");
  f << to_json(meta, rows);
  if (!f) throw std::runtime_error("write failed: " + path);
}

}  // namespace mxgemm::bench
