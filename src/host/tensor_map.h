// Host: building TMA descriptors (CUtensorMap) through the driver entry point (no -lcuda link needed).
#pragma once

#include <cuda.h>

#include <cstdint>

namespace mxgemm::host {

// A 2D row-major tensor [rows, cols] of `elem_bytes`-byte elements with a row pitch of `ld` elements, read or
// written in boxes of [box_rows, box_cols]; `swizzle_bytes` is 0 (none), 32, 64 or 128. Out-of-bounds box parts
// read as zero and are not written. Throws mxgemm::Error on failure (message names `what`).
CUtensorMap make_tensor_map_2d(const char* what, const void* base, int elem_bytes, int64_t rows, int64_t cols,
                               int64_t ld, int box_rows, int box_cols, int swizzle_bytes);

}  // namespace mxgemm::host
