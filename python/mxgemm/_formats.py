"""Names of the output formats, scale rules and scale layouts (FORMAT.md §2-3), and the shapes they imply.

Pure Python: shared by the eager API, the torch.library fake implementations and the NumPy reference.
"""

OUT_FORMATS = {"bf16": 0, "mxfp8": 1, "g128_fp32": 2, "g128_ue8m0": 3}
SCALE_RULES = {"rceil": 0, "floor": 1}
SCALE_LAYOUTS = {"compact": 0, "blocked128x4": 1, "blocked": 1}

BF16, MXFP8, G128_FP32, G128_UE8M0 = 0, 1, 2, 3
COMPACT, BLOCKED = 0, 1


def _enum(table, value, what):
    try:
        return table[value]
    except (KeyError, TypeError):
        pass
    if isinstance(value, int) and value in table.values():
        return value
    raise ValueError(f"{what}={value!r}: expected one of {', '.join(repr(k) for k in table)}")


def out_format(value):
    return _enum(OUT_FORMATS, value, "out_format")


def scale_rule(value):
    return _enum(SCALE_RULES, value, "scale_rule")


def scale_layout(value):
    return _enum(SCALE_LAYOUTS, value, "scale_layout")


def ceil_div(a, b):
    return (a + b - 1) // b


def pad(x, a):
    return (x + a - 1) // a * a


def group_size(fmt):
    return {BF16: 0, MXFP8: 32, G128_FP32: 128, G128_UE8M0: 128}[fmt]


def scale_storage_shape(fmt, layout, rows, cols):
    """Shape of the buffer that holds the scales of a [rows, cols] output (what gets allocated).

    mxfp8 compact: [rows, ceil(cols/32)] bytes; mxfp8 blocked128x4: [pad(rows,128), pad(ceil(cols/32),4)] bytes
    (tiles of 128x4 in the cuBLASLt order, not a plain matrix); g128_*: FP32 [ceil(cols/128), pad(rows,4)], which
    the API hands out as its MN-major view [rows, ceil(cols/128)] with strides (1, pad(rows,4)).
    """
    if fmt == MXFP8:
        g = ceil_div(cols, 32)
        return (rows, g) if layout == COMPACT else (pad(rows, 128), pad(g, 4))
    if fmt in (G128_FP32, G128_UE8M0):
        return (ceil_div(cols, 128), pad(rows, 4))
    raise ValueError("bf16 output has no scales")


def scale_is_float(fmt):
    return fmt in (G128_FP32, G128_UE8M0)
