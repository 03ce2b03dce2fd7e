// Framework-neutral view of an array argument: pointer, shape, strides (in elements), dtype, device.
//
// Two ways in, neither touching PyTorch's C++ ABI:
//  - torch.Tensor (fast path): one capsule from torch.utils.dlpack.to_dlpack (a C builtin: no Python-level
//    __dlpack__), else read through its Python methods (data_ptr, shape, stride, dtype, get_device); the Tensor
//    type, dtype objects and exporter are registered once from Python (mxgemm/_torch.py).
//  - anything else that speaks DLPack or the buffer protocol (CuPy, JAX, NumPy, torch before registration):
//    imported by nanobind's nb::ndarray, which keeps the producer alive for the duration of the call.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mxgemm::python {

namespace nb = nanobind;

enum class DType : int {
  kOther = 0, kU8, kI8, kBool, kE4M3, kE5M2, kE8M0, kBF16, kF16, kF32, kF64, kI32, kI64, kU16,
};

const char* dtype_name(DType t);

enum class Framework : int { kOther = 0, kTorch = 1, kCuPy = 2 };

struct TensorView {
  void* ptr = nullptr;
  int ndim = 0;
  int64_t shape[8] = {};
  int64_t strides[8] = {};  // in elements
  DType dtype = DType::kOther;
  std::string other_dtype;  // printable name when dtype == kOther
  bool cuda = false;        // device memory of a CUDA device (kDLCUDA or kDLCUDAManaged)
  bool cpu = false;         // host memory (kDLCPU, kDLCUDAHost)
  int device_id = -1;       // CUDA ordinal when cuda
  Framework framework = Framework::kOther;
  nb::ndarray<> keep_rw;    // the imported array (DLPack / buffer path): holds the producer's buffer alive
  nb::ndarray<nb::ro> keep_ro;

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  // Row-major dense (strides of size-1 dimensions are ignored).
  bool contiguous() const {
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
  std::string shape_str() const;
  std::string strides_str() const;
  std::string dtype_str() const { return dtype == DType::kOther ? other_dtype : dtype_name(dtype); }
  std::string device_str() const;
};

// Convert a Python object. `name` is the argument's name for messages; `writable` outputs need a mutable import.
// Throws nb::type_error for objects that are not arrays.
TensorView to_view(nb::handle obj, const char* name, bool writable);

// Registration from Python (mxgemm/_torch.py): torch.Tensor, {dtype object: name}, stream getter(device) -> int.
void register_torch(nb::handle tensor_type, nb::dict dtypes, nb::callable stream_getter, nb::object to_dlpack);
bool torch_registered();
// Registration of a generic "current stream of this object's framework" callable (obj) -> int or None.
void register_stream_resolver(nb::callable resolver);

// The stream to launch on: the explicit `stream` argument (an int, or an object with .cuda_stream / .ptr),
// else the current stream of the framework of `first` (torch / CuPy), else 0 (the legacy default stream).
uintptr_t resolve_stream(nb::handle stream, const TensorView& first, nb::handle first_obj);

}  // namespace mxgemm::python
