// mxgemm-bench: mxgemm's kernels beside their peers, measured in the same run; prints a table and writes JSON.
//
//   mxgemm-bench [--mode gemm|quantize|read|all] [--shapes MxNxK,...] [--formats bf16,mxfp8,...] [--tiles auto,...]
//                [--iters N] [--rounds N] [--warmup N] [--out FILE.json] [--no-verify] [--no-ceilings]
//
// Exit status: 0 done; 1 error; 2 no SM90 GPU (or bad flags); 3 a row failed verification (note "VERIFY FAILED").
// JSON: {"device", "date", "git", "command", ..., "rows": [{"op", "M", "N", "K", "format", "mxgemm_us",
// "peers": {name: us}, "verified", ...extra fields}]}; non-finite numbers (not run) are null.
#include <cuda_runtime.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "bench.h"
#include "bench_gemm.h"
#include "bench_read.h"
#include "bench_util.h"

#if defined(__has_include)
#if __has_include("bench_quantize.h")
#include "bench_quantize.h"
#define MXGEMM_BENCH_HAS_QUANTIZE 1
#endif
#endif
#ifndef MXGEMM_BENCH_HAS_QUANTIZE
#define MXGEMM_BENCH_HAS_QUANTIZE 0
#endif

#ifndef MXGEMM_GIT_REV
#define MXGEMM_GIT_REV "unknown"
#endif
#ifndef MXGEMM_SOURCE_DIR
#define MXGEMM_SOURCE_DIR "."
#endif

using namespace mxgemm::bench;

namespace {

void usage(FILE* f) {
  std::fprintf(f,
               "usage: mxgemm-bench [--mode gemm|quantize|read|all] [--shapes MxNxK,...] [--formats F,...] [--tiles T,...]\n"
               "                    [--iters N] [--rounds N] [--warmup N] [--out FILE.json] [--no-verify] [--no-ceilings]\n"
               "  --mode      what to run (default all = gemm + quantize; read = streaming reads of the M <= 256\n"
               "              shapes' weight bytes beside the fused GEMM, the small-M floor as a kernel sees it)\n"
               "  --shapes    GEMM shapes, default the dense shapes of PEERS.md\n"
               "  --formats   output formats: bf16,mxfp8,mxfp8_blocked,mxfp8_floor,g128_fp32,g128_ue8m0 (default all)\n"
               "  --tiles     gemm tiles: auto (the cost model) and/or BMxBN[xCMxCN[xSK]] forced (default auto)\n"
               "  --iters     timed calls per measurement, median reported (default 30)\n"
               "  --rounds    gemm mode: interleaved rounds over all measurements of a shape, median (default 5)\n"
               "  --warmup    untimed calls first (default 5)\n"
               "  --out       JSON path; default $OUT/bench-<mode>.json when OUT is set, else\n"
               "              <repo>/bench/results/<date>-<gpu>-<mode>.json\n"
               "  --no-verify skip the CPU-reference check of sampled rows\n"
               "  --no-ceilings skip the copy and cuBLASLt 8192^3 ceiling rows\n");
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t p = s.find(sep, start);
    const std::string t = s.substr(start, p == std::string::npos ? std::string::npos : p - start);
    if (!t.empty()) out.push_back(t);
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

bool parse_shape(const std::string& t, GemmShape* s) {
  long m = 0, n = 0, k = 0;
  char tail = 0;
  if (std::sscanf(t.c_str(), "%ldx%ldx%ld%c", &m, &n, &k, &tail) != 3 || m <= 0 || n <= 0 || k <= 0) return false;
  *s = {m, n, k};
  return true;
}

std::string utc_date() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d", &tm);
  return b;
}

// "NVIDIA H100 80GB HBM3" -> "h100-80gb-hbm3"
std::string gpu_slug(const std::string& name) {
  std::string s;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!s.empty() && s.back() != '-') {
      s += '-';
    }
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  if (s.rfind("nvidia-", 0) == 0) s = s.substr(7);
  return s.empty() ? "gpu" : s;
}

std::string git_rev() {
  std::string rev = MXGEMM_GIT_REV;
  if (rev.empty() || rev == "unknown") {
    const char* env = std::getenv("MXGEMM_GIT_REV");
    rev = env && *env ? env : "unknown";
  }
  return rev;
}

// Exit 2 with a clear message unless an SM90 GPU is present; never faults.
void require_sm90() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  std::string found;
  if (e != cudaSuccess) {
    found = std::string("no usable CUDA device (cudaGetDeviceCount: ") + cudaGetErrorString(e) + ")";
  } else if (count == 0) {
    found = "no CUDA device";
  } else {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
      found = "a device whose properties cannot be read";
    } else if (p.major == 9 && p.minor == 0) {
      return;
    } else {
      char b[400];
      std::snprintf(b, sizeof b, "%s (compute capability %d.%d)", p.name, p.major, p.minor);
      found = b;
    }
  }
  std::fprintf(stderr, "mxgemm-bench needs an SM90 (H100/H200) GPU; found: %s\n", found.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "all", out_path;
  std::vector<GemmShape> shapes = peers_dense_shapes();
  std::vector<OutFormatChoice> formats = all_out_formats();
  std::vector<TileRequest> tiles = {TileRequest{}};
  BenchContext ctx;
  bool ceilings = true;
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);

  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mxgemm-bench: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--mode") {
      mode = value("--mode");
      if (mode != "gemm" && mode != "quantize" && mode != "read" && mode != "all") {
        std::fprintf(stderr, "mxgemm-bench: --mode %s: must be gemm, quantize, read or all\n", mode.c_str());
        return 2;
      }
    } else if (a == "--shapes") {
      shapes.clear();
      for (const auto& t : split(value("--shapes"), ',')) {
        GemmShape s;
        if (!parse_shape(t, &s)) {
          std::fprintf(stderr, "mxgemm-bench: --shapes: '%s' is not MxNxK with positive integers\n", t.c_str());
          return 2;
        }
        shapes.push_back(s);
      }
    } else if (a == "--formats") {
      formats.clear();
      for (const auto& t : split(value("--formats"), ',')) {
        OutFormatChoice f;
        if (!parse_out_format(t, &f)) {
          std::fprintf(stderr, "mxgemm-bench: --formats: unknown format '%s'\n", t.c_str());
          return 2;
        }
        formats.push_back(f);
      }
    } else if (a == "--tiles") {
      tiles.clear();
      for (const auto& t : split(value("--tiles"), ',')) {
        TileRequest tr;
        if (!parse_tile(t, &tr)) {
          std::fprintf(stderr, "mxgemm-bench: --tiles: '%s' is not auto or BMxBN[xCMxCN[xSK]]\n", t.c_str());
          return 2;
        }
        tiles.push_back(tr);
      }
    } else if (a == "--rounds") {
      ctx.rounds = std::atoi(value("--rounds").c_str());
      if (ctx.rounds < 1) {
        std::fprintf(stderr, "mxgemm-bench: --rounds must be >= 1\n");
        return 2;
      }
    } else if (a == "--iters") {
      ctx.iters = std::atoi(value("--iters").c_str());
      if (ctx.iters < 1) {
        std::fprintf(stderr, "mxgemm-bench: --iters must be >= 1\n");
        return 2;
      }
    } else if (a == "--warmup") {
      ctx.warmup = std::atoi(value("--warmup").c_str());
      if (ctx.warmup < 0) ctx.warmup = 0;
    } else if (a == "--out") {
      out_path = value("--out");
    } else if (a == "--no-verify") {
      ctx.verify = false;
    } else if (a == "--no-ceilings") {
      ceilings = false;
    } else {
      std::fprintf(stderr, "mxgemm-bench: unknown flag '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }

  require_sm90();

  RunMeta meta;
  std::vector<BenchRow> rows;
  int status = 0;
  try {
    const DeviceDesc dev = describe_device();
    meta.device = dev.name;
    meta.date = utc_date();
    meta.git = git_rev();
    meta.command = command;
    meta.numbers.push_back({"sms", static_cast<double>(dev.sms)});
    char ver[64];
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    std::snprintf(ver, sizeof ver, "runtime %d, driver %d", rt, drv);
    meta.strings.push_back({"cuda", ver});
    std::printf("mxgemm-bench on %s (%d SMs), git %s, mode %s, %d iters (median), L2 flushed between calls, "
                "gemm measurements interleaved over %d rounds\n",
                dev.name.c_str(), dev.sms, meta.git.c_str(), mode.c_str(), ctx.iters, ctx.rounds);
    meta.numbers.push_back({"rounds", static_cast<double>(ctx.rounds)});

    if (out_path.empty()) {
      const char* out_env = std::getenv("OUT");
      if (out_env && *out_env) {
        out_path = std::string(out_env) + "/bench-" + mode + ".json";
      } else {
        out_path = std::string(MXGEMM_SOURCE_DIR) + "/bench/results/" + meta.date + "-" + gpu_slug(dev.name) + "-" +
                   mode + ".json";
      }
    }
    const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);

    check_cuda(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking), "cudaStreamCreate");

    if (mode == "gemm" || mode == "all") {
      std::string log;
      auto r = bench_gemm(ctx, shapes, formats, tiles, ceilings, &log);
      meta.strings.push_back({"cublaslt_peer", log});
      rows.insert(rows.end(), r.begin(), r.end());
      if (mode == "all") {
        print_table(rows);
        write_json(out_path, meta, rows);  // kept if a later mode is cut off; rewritten at the end
        std::printf("wrote %s (%zu rows, gemm mode)\n", out_path.c_str(), rows.size());
      }
    }
    if (mode == "read") rows = bench_read(ctx, shapes);
    if (mode == "quantize" || mode == "all") {
#if MXGEMM_BENCH_HAS_QUANTIZE
      auto r = bench_quantize(ctx);
      rows.insert(rows.end(), r.begin(), r.end());
#else
      std::printf("quantize mode: not built (tools/bench/bench_quantize.h absent)\n");
      meta.strings.push_back({"quantize_mode", "not built"});
#endif
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxgemm-bench: %s\n", e.what());
    meta.strings.push_back({"error", e.what()});
    status = 1;
  }

  print_table(rows);
  for (const auto& r : rows)
    if (status == 0 && r.note.find("VERIFY FAILED") != std::string::npos) status = 3;
  try {
    if (!out_path.empty()) {
      write_json(out_path, meta, rows);
      std::printf("wrote %s (%zu rows)\n", out_path.c_str(), rows.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxgemm-bench: %s\n", e.what());
    status = status ? status : 1;
  }
  if (ctx.stream) cudaStreamDestroy(ctx.stream);
  return status;
}
