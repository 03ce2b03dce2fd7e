// mxgemm._C: the nanobind extension behind the `mxgemm` Python package.
//
// Low-level entry points, one per C++ API function: arrays come in as torch tensors (fast path) or any
// DLPack / buffer-protocol array, are checked here for dtype (TypeError) and shape/stride/device (ValueError),
// turned into the C++ argument structs, validated by mxgemm::validate() and launched with the GIL released on the
// resolved stream. The Python package (mxgemm/__init__.py) adds the DeepGEMM-style (data, scales) API, allocation
// and the torch.library ops on top.
//
// Every launching function takes `validate_only`: None to launch, or a (cc_major, cc_minor, num_sms) tuple to run
// the same checks plus mxgemm::validate() against that device description and return without launching. That
// path needs no GPU and accepts CPU arrays, so argument handling is tested on CPU-only CI.
//
// mxgemm::Error -> Python: kInvalidArgument -> ValueError, kNotImplemented -> NotImplementedError,
// kUnsupported -> mxgemm.UnsupportedError (a RuntimeError: this GPU/build cannot run it), kCudaError ->
// mxgemm.CudaError (a RuntimeError).

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <cuda_runtime_api.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "mxgemm/mxgemm.h"
#include "mxgemm/reference.h"
#include "tensor_view.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace mxgemm::python {
namespace {

PyObject* g_unsupported_error = nullptr;
PyObject* g_cuda_error = nullptr;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t pad4(int64_t x) { return (x + 3) / 4 * 4; }

[[noreturn]] void type_fail(const std::string& m) { throw nb::type_error(m.c_str()); }
[[noreturn]] void value_fail(const std::string& m) { throw nb::value_error(m.c_str()); }

bool e4m3_like(DType t) { return t == DType::kE4M3 || t == DType::kU8 || t == DType::kI8; }
bool e8m0_like(DType t) { return t == DType::kE8M0 || t == DType::kU8; }
// bf16, or its raw bits as uint16 (NumPy and CuPy have no bfloat16 dtype).
bool bf16_like(DType t) { return t == DType::kBF16 || t == DType::kU16; }

constexpr const char* kE4M3Names = "float8_e4m3fn (or its raw bytes as uint8/int8)";
constexpr const char* kE8M0Names = "float8_e8m0fnu or uint8 (e8m0 scale bytes)";

// An argument being checked: its view and its name, prefixed by the entry point in every message.
struct Arg {
  const char* fn;
  const char* name;
  TensorView v;
  nb::handle obj;

  std::string who() const { return std::string(fn) + ": " + name; }
  void dtype(bool ok, const char* expected) const {
    if (!ok) type_fail(who() + ": dtype " + v.dtype_str() + ", expected " + expected);
  }
  void shape(std::initializer_list<int64_t> expected, const char* meaning) const {
    bool ok = static_cast<int>(expected.size()) == v.ndim;
    int i = 0;
    for (int64_t e : expected) ok = ok && (i < v.ndim && v.shape[i++] == e);
    if (!ok) {
      std::string s = "[";
      int j = 0;
      for (int64_t e : expected) s += (j++ ? ", " : "") + std::to_string(e);
      value_fail(who() + ": shape " + v.shape_str() + ", expected " + s + "] " + meaning);
    }
  }
  void ndim(int n, const char* meaning) const {
    if (v.ndim != n) {
      value_fail(who() + ": " + std::to_string(v.ndim) + " dimensions (shape " + v.shape_str() + "), expected " +
                 std::to_string(n) + " " + meaning);
    }
  }
  // Rows of a row-major matrix whose last dimension is dense: returns the row stride (0 = dense, when rows <= 1).
  int64_t row_stride() const {
    const int r = v.ndim - 1;
    if (v.shape[r] > 1 && v.strides[r] != 1) {
      value_fail(who() + ": strides " + v.strides_str() + ": the last dimension must be contiguous (stride 1)");
    }
    if (v.ndim < 2 || v.shape[r - 1] <= 1) return 0;
    return v.strides[r - 1];
  }
  void contiguous(const char* meaning) const {
    if (!v.contiguous()) {
      value_fail(who() + ": strides " + v.strides_str() + " for shape " + v.shape_str() + ": must be contiguous (" +
                 meaning + ")");
    }
  }
  // Stride of dimension d must equal `expected` unless that dimension has size 1.
  void stride_is(int d, int64_t expected, const std::string& meaning) const {
    if (v.shape[d] > 1 && v.strides[d] != expected) {
      value_fail(who() + ": strides " + v.strides_str() + " for shape " + v.shape_str() + ": stride of dimension " +
                 std::to_string(d) + " must be " + std::to_string(expected) + " (" + meaning + ")");
    }
  }
};

Arg in(const char* fn, const char* name, nb::handle o) { return Arg{fn, name, to_view(o, name, false), o}; }
Arg out(const char* fn, const char* name, nb::handle o) { return Arg{fn, name, to_view(o, name, true), o}; }

std::optional<DeviceInfo> parse_device(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  auto t = nb::cast<std::tuple<int, int, int>>(h);
  DeviceInfo d;
  d.cc_major = std::get<0>(t);
  d.cc_minor = std::get<1>(t);
  d.num_sms = std::get<2>(t);
  return d;
}

OutFormat parse_format(int f) {
  if (f < 0 || f > 3) value_fail("out_format=" + std::to_string(f) + ": not a valid format (0..3)");
  return static_cast<OutFormat>(f);
}

[[noreturn]] void cuda_fail(const std::string& what, cudaError_t e) {
  throw Error(ErrorCode::kCudaError, what + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

// Device checks, stream resolution, device guard and GIL release around `launch`.
template <typename F>
void launch(const char* fn, std::initializer_list<const Arg*> args, nb::handle stream, F&& body) {
  const Arg* first = nullptr;
  for (const Arg* a : args) {
    if (!a->v.cuda) {
      value_fail(std::string(fn) + ": " + a->name + ": on " + a->v.device_str() +
                 ", expected CUDA device memory (CPU arrays are accepted by mxgemm.validate.* and mxgemm.reference.*)");
    }
    if (first == nullptr) {
      first = a;
    } else if (a->v.device_id != first->v.device_id) {
      value_fail(std::string(fn) + ": " + a->name + " is on " + a->v.device_str() + " but " + first->name +
                 " is on " + first->v.device_str() + ": all arrays must be on one device");
    }
  }
  const uintptr_t s = resolve_stream(stream, first->v, first->obj);
  int current = 0;
  cudaError_t e = cudaGetDevice(&current);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(ErrorCode::kUnsupported, std::string(fn) + ": no usable CUDA device (cudaGetDevice: " +
                                             cudaGetErrorName(e) + ")");
  }
  const int target = first->v.device_id;
  {
    nb::gil_scoped_release release;
    if (target != current) {
      if ((e = cudaSetDevice(target)) != cudaSuccess) cuda_fail(std::string(fn) + ": cudaSetDevice", e);
    }
    struct Restore {
      int device;
      bool active;
      ~Restore() {
        if (active) (void)cudaSetDevice(device);
      }
    } restore{current, target != current};
    body(reinterpret_cast<cudaStream_t>(s));
  }
}

// ---- shared argument checks -------------------------------------------------------------------------------------

// e4m3 operand [rows, K] with dense last dimension; returns its row stride (0 = K).
int64_t fp8_matrix(const Arg& a, bool need_dense) {
  a.dtype(e4m3_like(a.v.dtype), kE4M3Names);
  a.ndim(2, "([rows, K], K contiguous)");
  const int64_t ld = a.row_stride();
  if (need_dense) a.contiguous("this entry point takes no row stride");
  return ld;
}

// SFA [M, kb] FP32, MN-major (strides (1, ld)); returns ld (>= M, a multiple of 4: checked by validate()).
int64_t sfa_mn_major(const Arg& s, int64_t M, int64_t kb) {
  s.dtype(s.v.dtype == DType::kF32, "float32");
  s.shape({M, kb}, "(SFA: [M, ceil(K/128)])");
  if (M > 1 && s.v.strides[0] != 1) {
    value_fail(s.who() + ": strides " + s.v.strides_str() +
               ": SFA must be MN-major, strides (1, ld) with ld = pad(M, 4) (FORMAT.md 1); convert a row-major "
               "[M, ceil(K/128)] tensor with mxgemm.get_mn_major_sfa() / transform_sfa_to_mn_major()");
  }
  return kb > 1 ? s.v.strides[1] : pad4(M);
}

// Masked SFA [G, max_m, kb] viewed over the storage [G, kb, pad(max_m,4)].
void sfa_masked(const Arg& s, int64_t G, int64_t max_m, int64_t kb) {
  s.dtype(s.v.dtype == DType::kF32, "float32");
  s.shape({G, max_m, kb}, "(masked SFA: [G, max_m, ceil(K/128)])");
  const int64_t P = pad4(max_m);
  const std::string layout = "MN-major over storage [G, ceil(K/128), pad(max_m,4)]: strides (" +
                             std::to_string(kb * P) + ", 1, " + std::to_string(P) + "); see mxgemm.get_mn_major_sfa()";
  s.stride_is(1, 1, layout);
  s.stride_is(2, P, layout);
  s.stride_is(0, kb * P, layout);
}

// The output data [batch?, rows, cols]: returns ld (0 = dense).
int64_t out_data(const Arg& d, OutFormat f, int64_t batch, int64_t rows, int64_t cols) {
  if (f == OutFormat::kBF16) {
    d.dtype(bf16_like(d.v.dtype), "bfloat16 (or its raw bits as uint16) for out_format bf16");
  } else {
    d.dtype(e4m3_like(d.v.dtype), kE4M3Names);
  }
  if (batch > 0) {
    d.shape({batch, rows, cols}, "(output [G, max_m, N])");
  } else {
    d.shape({rows, cols}, "(output [M, N])");
  }
  const int64_t ld = d.row_stride();
  if (batch > 0) d.stride_is(0, rows * (ld == 0 ? cols : ld), "groups are stored back to back: max_m * ld");
  return ld;
}

// An MN-major scale buffer given as its storage, contiguous [batch?, kb, P] (what torch.compile's functionalization
// hands a mutated op: a clone of a strided view is compacted, so mutated MN-major buffers travel as storage).
bool is_mn_storage(const TensorView& v, int64_t batch, int64_t kb, int64_t P) {
  if (!v.contiguous()) return false;
  if (batch > 0) return v.ndim == 3 && v.shape[0] == batch && v.shape[1] == kb && v.shape[2] == P;
  return v.ndim == 2 && v.shape[0] == kb && v.shape[1] == P;
}

// The output scales (null for bf16). batch > 0: masked, one scale block per group.
void* out_scales(const char* fn, const Arg* s, OutFormat f, ScaleLayout layout, int64_t batch, int64_t rows,
                 int64_t cols) {
  if (f == OutFormat::kBF16) {
    if (s != nullptr) value_fail(std::string(fn) + ": d_sf given with out_format bf16 (bf16 has no scales)");
    return nullptr;
  }
  if (s == nullptr) value_fail(std::string(fn) + ": d_sf is required for out_format " + to_string(f));
  if (f == OutFormat::kMXFP8) {
    s->dtype(e8m0_like(s->v.dtype), kE8M0Names);
    const int64_t groups = ceil_div(cols, 32);
    if (layout == ScaleLayout::kCompact) {
      if (batch > 0) {
        s->shape({batch, rows, groups}, "(mxfp8 compact scales: [G, max_m, N/32])");
      } else {
        s->shape({rows, groups}, "(mxfp8 compact scales: [M, N/32])");
      }
      s->contiguous("compact scales are dense rows");
    } else {
      const int64_t need = (batch > 0 ? batch : 1) * scale_elements(f, layout, rows, cols);
      if (s->v.numel() != need) {
        value_fail(s->who() + ": " + std::to_string(s->v.numel()) + " elements (shape " + s->v.shape_str() +
                   "), expected " + std::to_string(need) +
                   " = pad(rows,128) * pad(ceil(cols/32),4) (blocked128x4, FORMAT.md 2)" +
                   (batch > 0 ? " per group" : ""));
      }
      s->contiguous("blocked128x4 is a dense byte buffer");
    }
    return s->v.ptr;
  }
  s->dtype(s->v.dtype == DType::kF32, "float32 (g128 scales)");
  const int64_t nb = ceil_div(cols, 128), P = pad4(rows);
  if (is_mn_storage(s->v, batch, nb, P)) return s->v.ptr;  // the storage itself: [G?, ceil(cols/128), pad(rows,4)]
  const std::string layout_text = "g128 scales are MN-major like SFA: shape [rows, ceil(cols/128)], strides (1, " +
                                  std::to_string(P) + ") over storage [ceil(cols/128), pad(rows,4)] (or that " +
                                  "storage itself, contiguous)";
  if (batch > 0) {
    s->shape({batch, rows, nb}, "(g128 scales: [G, max_m, ceil(N/128)])");
    s->stride_is(1, 1, layout_text);
    s->stride_is(2, P, layout_text);
    s->stride_is(0, nb * P, layout_text + ", groups back to back");
  } else {
    s->shape({rows, nb}, "(g128 scales: [M, ceil(N/128)])");
    s->stride_is(0, 1, layout_text);
    s->stride_is(1, P, layout_text);
  }
  return s->v.ptr;
}

ScaleRule parse_rule(int r) { return static_cast<ScaleRule>(r); }      // range checked by validate()
ScaleLayout parse_layout(int l) { return static_cast<ScaleLayout>(l); }  // range checked by validate()

std::optional<Arg> opt_out(const char* fn, const char* name, nb::handle o) {
  if (o.is_none()) return std::nullopt;
  return out(fn, name, o);
}

// ---- entry points -----------------------------------------------------------------------------------------------

void gemm_nt(nb::handle a_, nb::handle sfa_, nb::handle b_, nb::handle sfb_, nb::handle d_, nb::handle dsf_,
             int format, int rule, int layout, nb::handle stream, nb::handle validate_only, bool pdl) {
  const char* fn = "fp8_gemm_nt";
  const Arg a = in(fn, "a", a_), sfa = in(fn, "sfa", sfa_), b = in(fn, "b", b_), sfb = in(fn, "sfb", sfb_);
  const Arg d = out(fn, "d", d_);
  const std::optional<Arg> dsf = opt_out(fn, "d_sf", dsf_);
  GemmNTArgs args;
  args.lda = fp8_matrix(a, false);
  args.M = a.v.shape[0];
  args.K = a.v.shape[1];
  args.ldb = fp8_matrix(b, false);
  args.N = b.v.shape[0];
  if (b.v.shape[1] != args.K) {
    value_fail(std::string(fn) + ": b: shape " + b.v.shape_str() + ": K=" + std::to_string(b.v.shape[1]) +
               " differs from a's K=" + std::to_string(args.K));
  }
  const int64_t kb = ceil_div(args.K, 128);
  args.ldsfa = sfa_mn_major(sfa, args.M, kb);
  sfb.dtype(sfb.v.dtype == DType::kF32, "float32");
  sfb.shape({ceil_div(args.N, 128), kb}, "(SFB: [ceil(N/128), ceil(K/128)])");
  sfb.contiguous("SFB is row-major");
  args.a = a.v.ptr;
  args.b = b.v.ptr;
  args.sfa = static_cast<const float*>(sfa.v.ptr);
  args.sfb = static_cast<const float*>(sfb.v.ptr);
  args.out.format = parse_format(format);
  args.out.rule = parse_rule(rule);
  args.out.layout = parse_layout(layout);
  args.out.ld = out_data(d, args.out.format, 0, args.M, args.N);
  args.out.data = d.v.ptr;
  args.out.scales = out_scales(fn, dsf ? &*dsf : nullptr, args.out.format, args.out.layout, 0, args.M, args.N);
  args.pdl = pdl;
  if (auto dev = parse_device(validate_only)) {
    validate(args, *dev);
    return;
  }
  if (dsf) {
    launch(fn, {&a, &sfa, &b, &sfb, &d, &*dsf}, stream, [&](cudaStream_t s) { fp8_gemm_nt(args, s); });
  } else {
    launch(fn, {&a, &sfa, &b, &sfb, &d}, stream, [&](cudaStream_t s) { fp8_gemm_nt(args, s); });
  }
}

void grouped_contiguous(nb::handle a_, nb::handle sfa_, nb::handle b_, nb::handle sfb_, nb::handle d_,
                        nb::handle dsf_, nb::handle layout_, int format, int rule, int layout, nb::handle stream,
                        nb::handle validate_only) {
  const char* fn = "m_grouped_fp8_gemm_nt_contiguous";
  const Arg a = in(fn, "a", a_), sfa = in(fn, "sfa", sfa_), b = in(fn, "b", b_), sfb = in(fn, "sfb", sfb_);
  const Arg lay = in(fn, "layout", layout_);
  const Arg d = out(fn, "d", d_);
  const std::optional<Arg> dsf = opt_out(fn, "d_sf", dsf_);
  GroupedContiguousArgs args;
  fp8_matrix(a, true);
  args.M = a.v.shape[0];
  args.K = a.v.shape[1];
  b.dtype(e4m3_like(b.v.dtype), kE4M3Names);
  b.ndim(3, "([G, N, K])");
  b.contiguous("grouped B is dense [G, N, K]");
  args.num_groups = b.v.shape[0];
  args.N = b.v.shape[1];
  if (b.v.shape[2] != args.K) {
    value_fail(std::string(fn) + ": b: shape " + b.v.shape_str() + ": K=" + std::to_string(b.v.shape[2]) +
               " differs from a's K=" + std::to_string(args.K));
  }
  const int64_t kb = ceil_div(args.K, 128);
  args.ldsfa = sfa_mn_major(sfa, args.M, kb);
  sfb.dtype(sfb.v.dtype == DType::kF32, "float32");
  sfb.shape({args.num_groups, ceil_div(args.N, 128), kb}, "(grouped SFB: [G, ceil(N/128), ceil(K/128)])");
  sfb.contiguous("SFB is row-major");
  lay.dtype(lay.v.dtype == DType::kI32, "int32 (group index per row, -1 = padding)");
  lay.shape({args.M}, "(layout: one int32 per row of a)");
  args.a = a.v.ptr;
  args.b = b.v.ptr;
  args.sfa = static_cast<const float*>(sfa.v.ptr);
  args.sfb = static_cast<const float*>(sfb.v.ptr);
  args.layout = static_cast<const int32_t*>(lay.v.ptr);
  args.out.format = parse_format(format);
  args.out.rule = parse_rule(rule);
  args.out.layout = parse_layout(layout);
  args.out.ld = out_data(d, args.out.format, 0, args.M, args.N);
  args.out.data = d.v.ptr;
  args.out.scales = out_scales(fn, dsf ? &*dsf : nullptr, args.out.format, args.out.layout, 0, args.M, args.N);
  if (auto dev = parse_device(validate_only)) {
    validate(args, *dev);
    return;
  }
  if (dsf) {
    launch(fn, {&a, &sfa, &b, &sfb, &lay, &d, &*dsf}, stream,
           [&](cudaStream_t s) { m_grouped_fp8_gemm_nt_contiguous(args, s); });
  } else {
    launch(fn, {&a, &sfa, &b, &sfb, &lay, &d}, stream,
           [&](cudaStream_t s) { m_grouped_fp8_gemm_nt_contiguous(args, s); });
  }
}

void grouped_masked(nb::handle a_, nb::handle sfa_, nb::handle b_, nb::handle sfb_, nb::handle d_, nb::handle dsf_,
                    nb::handle masked_m_, int64_t expected_m, int format, int rule, int layout, nb::handle stream,
                    nb::handle validate_only) {
  const char* fn = "m_grouped_fp8_gemm_nt_masked";
  const Arg a = in(fn, "a", a_), sfa = in(fn, "sfa", sfa_), b = in(fn, "b", b_), sfb = in(fn, "sfb", sfb_);
  const Arg mm = in(fn, "masked_m", masked_m_);
  const Arg d = out(fn, "d", d_);
  const std::optional<Arg> dsf = opt_out(fn, "d_sf", dsf_);
  GroupedMaskedArgs args;
  a.dtype(e4m3_like(a.v.dtype), kE4M3Names);
  a.ndim(3, "([G, max_m, K])");
  a.contiguous("masked A is dense [G, max_m, K]");
  args.num_groups = a.v.shape[0];
  args.max_m = a.v.shape[1];
  args.K = a.v.shape[2];
  args.expected_m = expected_m;
  b.dtype(e4m3_like(b.v.dtype), kE4M3Names);
  b.ndim(3, "([G, N, K])");
  b.contiguous("grouped B is dense [G, N, K]");
  args.N = b.v.shape[1];
  if (b.v.shape[0] != args.num_groups || b.v.shape[2] != args.K) {
    value_fail(std::string(fn) + ": b: shape " + b.v.shape_str() + ", expected [G=" +
               std::to_string(args.num_groups) + ", N, K=" + std::to_string(args.K) + "] from a " + a.v.shape_str());
  }
  const int64_t kb = ceil_div(args.K, 128);
  sfa_masked(sfa, args.num_groups, args.max_m, kb);
  sfb.dtype(sfb.v.dtype == DType::kF32, "float32");
  sfb.shape({args.num_groups, ceil_div(args.N, 128), kb}, "(grouped SFB: [G, ceil(N/128), ceil(K/128)])");
  sfb.contiguous("SFB is row-major");
  mm.dtype(mm.v.dtype == DType::kI32, "int32 (valid rows per group)");
  mm.shape({args.num_groups}, "(masked_m: one int32 per group)");
  args.a = a.v.ptr;
  args.b = b.v.ptr;
  args.sfa = static_cast<const float*>(sfa.v.ptr);
  args.sfb = static_cast<const float*>(sfb.v.ptr);
  args.masked_m = static_cast<const int32_t*>(mm.v.ptr);
  args.out.format = parse_format(format);
  args.out.rule = parse_rule(rule);
  args.out.layout = parse_layout(layout);
  args.out.ld = out_data(d, args.out.format, args.num_groups, args.max_m, args.N);
  args.out.data = d.v.ptr;
  args.out.scales = out_scales(fn, dsf ? &*dsf : nullptr, args.out.format, args.out.layout, args.num_groups,
                               args.max_m, args.N);
  if (auto dev = parse_device(validate_only)) {
    validate(args, *dev);
    return;
  }
  if (dsf) {
    launch(fn, {&a, &sfa, &b, &sfb, &mm, &d, &*dsf}, stream,
           [&](cudaStream_t s) { m_grouped_fp8_gemm_nt_masked(args, s); });
  } else {
    launch(fn, {&a, &sfa, &b, &sfb, &mm, &d}, stream, [&](cudaStream_t s) { m_grouped_fp8_gemm_nt_masked(args, s); });
  }
}

void quantize_(nb::handle x_, nb::handle d_, nb::handle dsf_, int format, int rule, int layout, bool columnwise,
               nb::handle stream, nb::handle validate_only) {
  const char* fn = "quantize";
  const Arg x = in(fn, "x", x_);
  const Arg d = out(fn, "d", d_);
  const std::optional<Arg> dsf = opt_out(fn, "d_sf", dsf_);
  QuantizeArgs args;
  x.dtype(bf16_like(x.v.dtype) || x.v.dtype == DType::kF32, "bfloat16 (or its raw bits as uint16) or float32");
  x.ndim(2, "([M, N])");
  args.type = x.v.dtype == DType::kF32 ? InputType::kFP32 : InputType::kBF16;
  args.ldx = x.row_stride();
  args.M = x.v.shape[0];
  args.N = x.v.shape[1];
  args.x = x.v.ptr;
  args.columnwise = columnwise;
  args.out.format = parse_format(format);
  if (args.out.format == OutFormat::kBF16) value_fail("quantize: out_format bf16 is not a quantized format");
  args.out.rule = parse_rule(rule);
  args.out.layout = parse_layout(layout);
  const int64_t rows = columnwise ? args.N : args.M, cols = columnwise ? args.M : args.N;
  args.out.ld = out_data(d, args.out.format, 0, rows, cols);
  args.out.data = d.v.ptr;
  args.out.scales = out_scales(fn, dsf ? &*dsf : nullptr, args.out.format, args.out.layout, 0, rows, cols);
  if (auto dev = parse_device(validate_only)) {
    validate(args, *dev);
    return;
  }
  launch(fn, {&x, &d, &*dsf}, stream, [&](cudaStream_t s) { quantize(args, s); });
}

void transform_sfa(nb::handle src_, nb::handle dst_, nb::handle stream, nb::handle validate_only) {
  const char* fn = "transform_sfa_to_mn_major";
  const Arg src = in(fn, "src", src_);
  const Arg dst = out(fn, "dst", dst_);
  src.dtype(src.v.dtype == DType::kF32, "float32");
  src.ndim(2, "([M, ceil(K/128)] row-major scales)");
  const int64_t M = src.v.shape[0], kb = src.v.shape[1];
  int64_t ld = src.row_stride();
  if (ld == 0) ld = kb;
  dst.dtype(dst.v.dtype == DType::kF32, "float32");
  if (!is_mn_storage(dst.v, 0, kb, pad4(M))) {
    dst.shape({M, kb}, "(MN-major view of the storage [ceil(K/128), pad(M,4)], or that storage)");
    const std::string layout = "MN-major: strides (1, pad(M,4)) over storage [ceil(K/128), pad(M,4)] (FORMAT.md 1)";
    dst.stride_is(0, 1, layout);
    dst.stride_is(1, pad4(M), layout);
  }
  if (ld < kb) {
    value_fail(std::string(fn) + ": src: row stride " + std::to_string(ld) + " < ceil(K/128)=" + std::to_string(kb));
  }
  if (!parse_device(validate_only).has_value()) {
    launch(fn, {&src, &dst}, stream, [&](cudaStream_t s) {
      transform_sfa_to_mn_major(static_cast<const float*>(src.v.ptr), M, kb, ld, static_cast<float*>(dst.v.ptr), s);
    });
  }
}

// ---- CPU reference (host arrays, C-contiguous; the Python side prepares them) -----------------------------------

template <typename T, typename... Extra>
using Host = nb::ndarray<T, nb::c_contig, nb::device::cpu, Extra...>;

template <typename T>
void copy_out(const std::vector<T>& src, Host<T>& dst, const char* what) {
  if (dst.size() != src.size()) {
    value_fail(std::string("reference.") + what + ": output has " + std::to_string(dst.size()) +
               " elements, expected " + std::to_string(src.size()));
  }
  std::memcpy(dst.data(), src.data(), src.size() * sizeof(T));
}

void ref_gemm_nt(Host<const uint8_t, nb::ndim<2>> a, Host<const float, nb::ndim<2>> sfa_mn,
                 Host<const uint8_t, nb::ndim<2>> b, Host<const float, nb::ndim<2>> sfb, Host<double> d) {
  const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(0);
  std::vector<double> r;
  {
    nb::gil_scoped_release release;
    r = reference::gemm_nt(M, N, K, a.data(), K, sfa_mn.data(), sfa_mn.shape(1), b.data(), K, sfb.data());
  }
  copy_out(r, d, "gemm_nt");
}

void ref_grouped_contiguous(Host<const uint8_t, nb::ndim<2>> a, Host<const float, nb::ndim<2>> sfa_mn,
                            Host<const uint8_t, nb::ndim<3>> b, Host<const float, nb::ndim<3>> sfb,
                            Host<const int32_t, nb::ndim<1>> layout, Host<double> d) {
  const int64_t M = a.shape(0), K = a.shape(1), G = b.shape(0), N = b.shape(1);
  std::vector<double> r;
  {
    nb::gil_scoped_release release;
    r = reference::grouped_contiguous_gemm_nt(G, M, N, K, a.data(), sfa_mn.data(), sfa_mn.shape(1), b.data(),
                                              sfb.data(), layout.data());
  }
  copy_out(r, d, "m_grouped_gemm_nt_contiguous");
}

void ref_grouped_masked(Host<const uint8_t, nb::ndim<3>> a, Host<const float, nb::ndim<3>> sfa_mn,
                        Host<const uint8_t, nb::ndim<3>> b, Host<const float, nb::ndim<3>> sfb,
                        Host<const int32_t, nb::ndim<1>> masked_m, Host<double> d) {
  const int64_t G = a.shape(0), max_m = a.shape(1), K = a.shape(2), N = b.shape(1);
  std::vector<double> r;
  {
    nb::gil_scoped_release release;
    r = reference::grouped_masked_gemm_nt(G, max_m, N, K, a.data(), sfa_mn.data(), b.data(), sfb.data(),
                                          masked_m.data());
  }
  copy_out(r, d, "m_grouped_gemm_nt_masked");
}

void ref_quantize(Host<const float, nb::ndim<2>> x, int format, int rule, int layout, Host<uint8_t, nb::ndim<2>> data,
                  nb::handle scales_obj) {
  OutputSpec spec;
  spec.format = parse_format(format);
  if (spec.format == OutFormat::kBF16) value_fail("reference.quantize: out_format bf16 is not a quantized format");
  spec.rule = parse_rule(rule);
  spec.layout = parse_layout(layout);
  const int64_t rows = x.shape(0), cols = x.shape(1);
  if (data.shape(0) != static_cast<size_t>(rows) || data.shape(1) != static_cast<size_t>(cols)) {
    value_fail("reference.quantize: data output shape mismatch");
  }
  const int64_t need = scale_elements(spec.format, spec.layout, rows, cols);
  if (spec.format == OutFormat::kMXFP8) {
    auto s = nb::cast<Host<uint8_t>>(scales_obj);
    if (static_cast<int64_t>(s.size()) != need) value_fail("reference.quantize: scale output size mismatch");
    spec.scales = s.data();
  } else {
    auto s = nb::cast<Host<float>>(scales_obj);
    if (static_cast<int64_t>(s.size()) != need) value_fail("reference.quantize: scale output size mismatch");
    spec.scales = s.data();
  }
  spec.data = data.data();
  spec.ld = cols;
  nb::gil_scoped_release release;
  reference::quantize(x.data(), rows, cols, cols, spec);
}

void ref_to_bf16(Host<const float, nb::ndim<2>> x, Host<uint16_t, nb::ndim<2>> out) {
  const int64_t rows = x.shape(0), cols = x.shape(1);
  if (out.shape(0) != x.shape(0) || out.shape(1) != x.shape(1)) value_fail("reference.to_bf16: shape mismatch");
  reference::to_bf16(x.data(), rows, cols, cols, out.data(), cols);
}

void ref_dequantize(Host<const uint8_t, nb::ndim<2>> data, nb::handle scales_obj, int format, int layout,
                    Host<float, nb::ndim<2>> out) {
  OutputSpec spec;
  spec.format = parse_format(format);
  if (spec.format == OutFormat::kBF16) value_fail("reference.dequantize: out_format bf16 is not a quantized format");
  spec.layout = parse_layout(layout);
  const int64_t rows = data.shape(0), cols = data.shape(1);
  const int64_t need = scale_elements(spec.format, spec.layout, rows, cols);
  if (spec.format == OutFormat::kMXFP8) {
    auto s = nb::cast<Host<const uint8_t>>(scales_obj);
    if (static_cast<int64_t>(s.size()) != need) value_fail("reference.dequantize: scale size mismatch");
    spec.scales = const_cast<uint8_t*>(s.data());
  } else {
    auto s = nb::cast<Host<const float>>(scales_obj);
    if (static_cast<int64_t>(s.size()) != need) value_fail("reference.dequantize: scale size mismatch");
    spec.scales = const_cast<float*>(s.data());
  }
  spec.data = const_cast<uint8_t*>(data.data());
  spec.ld = cols;
  std::vector<float> r = reference::dequantize(rows, cols, spec);
  if (out.size() != r.size()) value_fail("reference.dequantize: output size mismatch");
  std::memcpy(out.data(), r.data(), r.size() * sizeof(float));
}

void ref_sfa_to_mn_major(Host<const float, nb::ndim<2>> src, Host<float> out) {
  const int64_t M = src.shape(0), kb = src.shape(1);
  std::vector<float> r = reference::sfa_to_mn_major(src.data(), M, kb, kb);
  copy_out(r, out, "sfa_to_mn_major");
}

nb::tuple device_info() {
  const DeviceInfo d = current_device_info();
  return nb::make_tuple(d.cc_major, d.cc_minor, d.num_sms);
}

}  // namespace
}  // namespace mxgemm::python

NB_MODULE(_C, m) {
  using namespace mxgemm;
  using namespace mxgemm::python;
  m.doc() = "mxgemm native extension (use the `mxgemm` package, not this module)";

  g_unsupported_error = PyErr_NewExceptionWithDoc(
      "mxgemm.UnsupportedError",
      "A valid request that this GPU or build cannot run (mxgemm::ErrorCode::kUnsupported), e.g. a non-SM90 GPU.",
      PyExc_RuntimeError, nullptr);
  g_cuda_error = PyErr_NewExceptionWithDoc("mxgemm.CudaError", "A CUDA runtime call failed (kCudaError).",
                                           PyExc_RuntimeError, nullptr);
  m.attr("UnsupportedError") = nb::handle(g_unsupported_error);
  m.attr("CudaError") = nb::handle(g_cuda_error);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      PyObject* type = PyExc_RuntimeError;
      switch (e.code()) {
        case ErrorCode::kInvalidArgument: type = PyExc_ValueError; break;
        case ErrorCode::kNotImplemented: type = PyExc_NotImplementedError; break;
        case ErrorCode::kUnsupported: type = g_unsupported_error; break;
        case ErrorCode::kCudaError: type = g_cuda_error; break;
      }
      PyErr_SetString(type, e.what());
    }
  });

  m.def("_register_torch", &register_torch, "tensor_type"_a, "dtypes"_a, "stream_getter"_a,
        "to_dlpack"_a.none() = nb::none());
  m.def("_register_stream_resolver", &register_stream_resolver, "resolver"_a);
  m.def("_torch_registered", &torch_registered);

  m.def("gemm_nt", &gemm_nt, "a"_a.none(), "sfa"_a.none(), "b"_a.none(), "sfb"_a.none(), "d"_a.none(),
        "d_sf"_a.none(), "out_format"_a, "scale_rule"_a, "scale_layout"_a, "stream"_a.none() = nb::none(),
        "validate_only"_a.none() = nb::none(), "pdl"_a = false);
  m.def("grouped_contiguous", &grouped_contiguous, "a"_a.none(), "sfa"_a.none(), "b"_a.none(), "sfb"_a.none(),
        "d"_a.none(), "d_sf"_a.none(), "layout"_a.none(), "out_format"_a, "scale_rule"_a, "scale_layout"_a,
        "stream"_a.none() = nb::none(), "validate_only"_a.none() = nb::none());
  m.def("grouped_masked", &grouped_masked, "a"_a.none(), "sfa"_a.none(), "b"_a.none(), "sfb"_a.none(),
        "d"_a.none(), "d_sf"_a.none(), "masked_m"_a.none(), "expected_m"_a, "out_format"_a, "scale_rule"_a,
        "scale_layout"_a, "stream"_a.none() = nb::none(), "validate_only"_a.none() = nb::none());
  m.def("quantize", &quantize_, "x"_a.none(), "d"_a.none(), "d_sf"_a.none(), "out_format"_a, "scale_rule"_a,
        "scale_layout"_a, "columnwise"_a, "stream"_a.none() = nb::none(), "validate_only"_a.none() = nb::none());
  m.def("transform_sfa_to_mn_major", &transform_sfa, "src"_a.none(), "dst"_a.none(), "stream"_a.none() = nb::none(),
        "validate_only"_a.none() = nb::none());

  m.def("device_info", &device_info,
        "(cc_major, cc_minor, num_sms) of the current CUDA device; raises UnsupportedError without one");
  m.def("group_size", [](int f) { return group_size(parse_format(f)); });
  m.def("scale_elements", [](int f, int layout, int64_t rows, int64_t cols) {
    return scale_elements(parse_format(f), parse_layout(layout), rows, cols);
  });
  m.def("get_m_alignment", [] { return get_m_alignment(); });
  m.def("to_string_format", [](int f) { return std::string(to_string(parse_format(f))); });

  m.def("ref_gemm_nt", &ref_gemm_nt);
  m.def("ref_grouped_contiguous", &ref_grouped_contiguous);
  m.def("ref_grouped_masked", &ref_grouped_masked);
  m.def("ref_quantize", &ref_quantize);
  m.def("ref_to_bf16", &ref_to_bf16);
  m.def("ref_dequantize", &ref_dequantize);
  m.def("ref_sfa_to_mn_major", &ref_sfa_to_mn_major);
}
