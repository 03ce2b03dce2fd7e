#include "tensor_view.h"

#include <Python.h>
#include <nanobind/stl/string.h>

#include <cstdlib>
#include <cstring>

namespace mxgemm::python {

namespace {

struct TorchState {
  PyTypeObject* tensor_type = nullptr;
  std::vector<std::pair<PyObject*, DType>> dtypes;  // strong references, never released (module lifetime)
  nb::callable stream_getter;                       // (device index) -> raw cudaStream_t as int
  nb::callable to_dlpack;                           // torch.utils.dlpack.to_dlpack (C builtin, ~0.25 us)
};
TorchState& torch_state() {
  static TorchState* s = new TorchState();  // leaked on purpose: no Python calls at interpreter teardown
  return *s;
}
nb::callable& stream_resolver() {
  static nb::callable* r = new nb::callable();
  return *r;
}

PyObject* interned(const char* s) {
  PyObject* o = PyUnicode_InternFromString(s);
  return o;  // immortal enough: interned strings live as long as the interpreter
}

int64_t as_int64(PyObject* o) {
  const long long v = PyLong_AsLongLong(o);
  if (v == -1 && PyErr_Occurred()) throw nb::python_error();
  return static_cast<int64_t>(v);
}

DType from_name(const std::string& n) {
  if (n == "uint8") return DType::kU8;
  if (n == "int8") return DType::kI8;
  if (n == "bool") return DType::kBool;
  if (n == "float8_e4m3fn") return DType::kE4M3;
  if (n == "float8_e5m2") return DType::kE5M2;
  if (n == "float8_e8m0fnu") return DType::kE8M0;
  if (n == "bfloat16") return DType::kBF16;
  if (n == "float16") return DType::kF16;
  if (n == "float32") return DType::kF32;
  if (n == "float64") return DType::kF64;
  if (n == "int32") return DType::kI32;
  if (n == "int64") return DType::kI64;
  if (n == "uint16") return DType::kU16;
  return DType::kOther;
}

DType from_dlpack(nb::dlpack::dtype dt, std::string* other) {
  using C = nb::dlpack::dtype_code;
  if (dt.lanes == 1) {
    switch (static_cast<C>(dt.code)) {
      case C::Int:
        if (dt.bits == 8) return DType::kI8;
        if (dt.bits == 32) return DType::kI32;
        if (dt.bits == 64) return DType::kI64;
        break;
      case C::UInt:
        if (dt.bits == 8) return DType::kU8;
        if (dt.bits == 16) return DType::kU16;
        break;
      case C::Float:
        if (dt.bits == 16) return DType::kF16;
        if (dt.bits == 32) return DType::kF32;
        if (dt.bits == 64) return DType::kF64;
        break;
      case C::Bfloat:
        if (dt.bits == 16) return DType::kBF16;
        break;
      case C::Bool:
        return DType::kBool;
      case C::Float8_E4M3FN:
        return DType::kE4M3;
      case C::Float8_E5M2:
        return DType::kE5M2;
      case C::Float8_E8M0FNU:
        return DType::kE8M0;
      default:
        break;
    }
  }
  *other = "dlpack(code=" + std::to_string(dt.code) + ", bits=" + std::to_string(dt.bits) +
           ", lanes=" + std::to_string(dt.lanes) + ")";
  return DType::kOther;
}

void fill_tuple(PyObject* tuple, int64_t* out, int* ndim, const char* name, const char* what) {
  if (!PyTuple_Check(tuple)) throw nb::type_error((std::string(name) + ": " + what + " is not a tuple").c_str());
  const Py_ssize_t n = PyTuple_GET_SIZE(tuple);
  if (n > 8) throw nb::value_error((std::string(name) + ": more than 8 dimensions").c_str());
  for (Py_ssize_t i = 0; i < n; ++i) out[i] = as_int64(PyTuple_GET_ITEM(tuple, i));
  *ndim = static_cast<int>(n);
}

TensorView torch_view(nb::handle obj, const char* name) {
  static PyObject* s_dtype = interned("dtype");
  static PyObject* s_shape = interned("shape");
  static PyObject* s_stride = interned("stride");
  static PyObject* s_data_ptr = interned("data_ptr");
  static PyObject* s_is_cuda = interned("is_cuda");
  static PyObject* s_get_device = interned("get_device");
  PyObject* o = obj.ptr();
  TensorView v;
  v.framework = Framework::kTorch;

  nb::object dtype = nb::steal(PyObject_GetAttr(o, s_dtype));
  if (!dtype.is_valid()) throw nb::python_error();
  v.dtype = DType::kOther;
  for (const auto& [d, t] : torch_state().dtypes) {
    if (d == dtype.ptr()) {
      v.dtype = t;
      break;
    }
  }
  if (v.dtype == DType::kOther) v.other_dtype = nb::cast<std::string>(nb::str(dtype));

  nb::object shape = nb::steal(PyObject_GetAttr(o, s_shape));
  if (!shape.is_valid()) throw nb::python_error();
  fill_tuple(shape.ptr(), v.shape, &v.ndim, name, "shape");
  nb::object stride = nb::steal(PyObject_CallMethodNoArgs(o, s_stride));
  if (!stride.is_valid()) throw nb::python_error();
  int sdim = 0;
  fill_tuple(stride.ptr(), v.strides, &sdim, name, "stride()");

  nb::object is_cuda = nb::steal(PyObject_GetAttr(o, s_is_cuda));
  if (!is_cuda.is_valid()) throw nb::python_error();
  v.cuda = is_cuda.ptr() == Py_True;
  if (v.cuda) {
    nb::object dev = nb::steal(PyObject_CallMethodNoArgs(o, s_get_device));
    if (!dev.is_valid()) throw nb::python_error();
    v.device_id = static_cast<int>(as_int64(dev.ptr()));
  } else {
    v.cpu = true;  // CPU (or meta: only ever validated, never launched)
  }
  nb::object ptr = nb::steal(PyObject_CallMethodNoArgs(o, s_data_ptr));
  if (!ptr.is_valid()) throw nb::python_error();
  v.ptr = PyLong_AsVoidPtr(ptr.ptr());
  if (v.ptr == nullptr && PyErr_Occurred()) throw nb::python_error();
  return v;
}

template <typename Array>
TensorView from_ndarray(const Array& a, nb::handle obj) {
  TensorView v;
  v.ptr = const_cast<void*>(static_cast<const void*>(a.data()));
  v.ndim = static_cast<int>(a.ndim());
  if (v.ndim > 8) throw nb::value_error("more than 8 dimensions");
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = static_cast<int64_t>(a.shape(i));
    v.strides[i] = static_cast<int64_t>(a.stride(i));
  }
  v.dtype = from_dlpack(a.dtype(), &v.other_dtype);
  const int dev = a.device_type();
  v.cuda = dev == nb::device::cuda::value || dev == nb::device::cuda_managed::value;
  v.cpu = dev == nb::device::cpu::value || dev == nb::device::cuda_host::value;
  v.device_id = v.cuda ? a.device_id() : -1;
  (void)obj;
  return v;
}

// MXGEMM_TORCH_ATTRIBUTE_PATH=1: read torch tensors through their attributes (for measuring / debugging).
bool torch_attribute_path() {
  static const bool on = [] {
    const char* v = std::getenv("MXGEMM_TORCH_ATTRIBUTE_PATH");
    return v != nullptr && v[0] == '1';
  }();
  return on;
}

bool maybe_bootstrap_torch() {
  // A torch.Tensor seen before mxgemm's torch integration was set up (torch imported after mxgemm): ask the
  // Python side to set it up now, then take the fast path. Only when torch is already imported.
  static bool tried = false;
  if (tried || torch_registered()) return torch_registered();
  PyObject* modules = PyImport_GetModuleDict();
  if (PyDict_GetItemString(modules, "torch") == nullptr) return false;
  tried = true;
  nb::module_ m = nb::module_::import_("mxgemm._torch");
  m.attr("setup")();
  return torch_registered();
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kU8: return "uint8";
    case DType::kI8: return "int8";
    case DType::kBool: return "bool";
    case DType::kE4M3: return "float8_e4m3fn";
    case DType::kE5M2: return "float8_e5m2";
    case DType::kE8M0: return "float8_e8m0fnu";
    case DType::kBF16: return "bfloat16";
    case DType::kF16: return "float16";
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kU16: return "uint16";
    default: return "unknown";
  }
}

std::string TensorView::shape_str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
std::string TensorView::strides_str() const {
  std::string s = "(";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(strides[i]);
  return s + ")";
}
std::string TensorView::device_str() const {
  if (cuda) return "cuda:" + std::to_string(device_id);
  if (cpu) return "cpu";
  return "unknown device";
}

void register_torch(nb::handle tensor_type, nb::dict dtypes, nb::callable stream_getter, nb::object to_dlpack) {
  TorchState& s = torch_state();
  if (!PyType_Check(tensor_type.ptr())) throw nb::type_error("register_torch: tensor_type must be a type");
  Py_INCREF(tensor_type.ptr());
  s.tensor_type = reinterpret_cast<PyTypeObject*>(tensor_type.ptr());
  s.dtypes.clear();
  for (auto [k, val] : dtypes) {
    Py_INCREF(k.ptr());
    s.dtypes.emplace_back(k.ptr(), from_name(nb::cast<std::string>(val)));
  }
  s.stream_getter = std::move(stream_getter);
  s.to_dlpack = to_dlpack.is_none() ? nb::callable() : nb::borrow<nb::callable>(to_dlpack);
}

bool torch_registered() { return torch_state().tensor_type != nullptr; }

void register_stream_resolver(nb::callable resolver) { stream_resolver() = std::move(resolver); }

TensorView to_view(nb::handle obj, const char* name, bool writable) {
  if (obj.is_none()) throw nb::type_error((std::string(name) + ": expected an array, got None").c_str());
  PyTypeObject* tp = torch_state().tensor_type;
  if (tp == nullptr && std::strcmp(Py_TYPE(obj.ptr())->tp_name, "Tensor") == 0 && maybe_bootstrap_torch()) {
    tp = torch_state().tensor_type;
  }
  if (tp != nullptr && PyObject_TypeCheck(obj.ptr(), tp)) {
    // One DLPack capsule from torch's C exporter (a stable C ABI) instead of six attribute reads: ~2x cheaper.
    // Falls back to the attribute reads if the export fails (a dtype DLPack cannot express, say).
    const nb::callable& exporter = torch_state().to_dlpack;
    if (exporter.is_valid() && !torch_attribute_path()) {
      PyObject* cap = PyObject_CallOneArg(exporter.ptr(), obj.ptr());
      if (cap != nullptr) {
        nb::object capsule = nb::steal(cap);
        nb::ndarray<> a;
        if (nb::try_cast(capsule, a)) {
          TensorView v = from_ndarray(a, obj);
          v.framework = Framework::kTorch;
          v.keep_rw = std::move(a);
          return v;
        }
      } else {
        PyErr_Clear();
      }
    }
    return torch_view(obj, name);
  }

  if (writable) {
    nb::ndarray<> a;
    if (!nb::try_cast(obj, a)) {
      throw nb::type_error((std::string(name) + ": expected a writable array (DLPack or buffer protocol: torch, " +
                            "CuPy, NumPy), got " + std::string(nb::type_name(obj.type()).c_str()))
                               .c_str());
    }
    TensorView v = from_ndarray(a, obj);
    v.keep_rw = std::move(a);
    return v;
  }
  nb::ndarray<nb::ro> a;
  if (!nb::try_cast(obj, a)) {
    throw nb::type_error((std::string(name) + ": expected an array (DLPack or buffer protocol: torch, CuPy, JAX, " +
                          "NumPy), got " + std::string(nb::type_name(obj.type()).c_str()))
                             .c_str());
  }
  TensorView v = from_ndarray(a, obj);
  v.keep_ro = std::move(a);
  return v;
}

uintptr_t resolve_stream(nb::handle stream, const TensorView& first, nb::handle first_obj) {
  if (!stream.is_none()) {
    if (PyLong_Check(stream.ptr())) {
      const unsigned long long s = PyLong_AsUnsignedLongLong(stream.ptr());
      if (PyErr_Occurred()) throw nb::python_error();
      return static_cast<uintptr_t>(s);
    }
    for (const char* attr : {"cuda_stream", "ptr"}) {  // torch.cuda.Stream, cupy.cuda.Stream
      if (nb::hasattr(stream, attr)) return nb::cast<uintptr_t>(stream.attr(attr));
    }
    throw nb::type_error(("stream: expected an int (cudaStream_t) or a torch/CuPy stream, got " +
                          std::string(nb::type_name(stream.type()).c_str()))
                             .c_str());
  }
  if (first.framework == Framework::kTorch) {
    nb::callable& g = torch_state().stream_getter;
    if (g.is_valid()) return nb::cast<uintptr_t>(g(first.device_id));
    return 0;
  }
  nb::callable& r = stream_resolver();
  if (r.is_valid()) {
    nb::object s = r(first_obj);
    if (!s.is_none()) return nb::cast<uintptr_t>(s);
  }
  return 0;
}

}  // namespace mxgemm::python
