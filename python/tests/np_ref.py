"""An independent NumPy implementation of FORMAT.md, for checking mxgemm.reference (the C++ oracle).

Written from the text of FORMAT.md with other arithmetic than src/reference and format_rules.h: e4m3 decoding
from the bit fields, encoding by nearest-value search with ties to the even code, scale bytes from frexp
(ceil/floor of log2) instead of exponent-bit manipulation, bf16 rounding by comparing the two neighbours.
"""
import numpy as np

E4M3_MAX = 448.0


def e4m3_decode_table():
    """Value of each of the 256 e4m3 codes (float64; NaN for 0x7F/0xFF)."""
    t = np.empty(256, np.float64)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        e, m = (code >> 3) & 0xF, code & 7
        if e == 15 and m == 7:
            t[code] = np.nan
        elif e == 0:
            t[code] = sign * m / 8.0 * 2.0 ** -6
        else:
            t[code] = sign * (1 + m / 8.0) * 2.0 ** (e - 7)
    return t


_TABLE = e4m3_decode_table()
_POS = _TABLE[:127]  # codes 0..126: 0 .. 448, increasing


def e4m3_encode(x):
    """FP32 values -> e4m3 codes: RNE, ties to the even code, |v| > 448 and Inf -> 448, NaN -> 0x7F."""
    x = np.asarray(x, np.float32).astype(np.float64)
    out = np.empty(x.shape, np.uint8)
    flat, res = x.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat):
        if np.isnan(v):
            res[i] = 0x7F
            continue
        sign = 0x80 if np.signbit(v) else 0
        a = abs(v)
        if a >= E4M3_MAX:
            res[i] = sign | 126
            continue
        hi = int(np.searchsorted(_POS, a, side="left"))  # _POS[hi] >= a
        if _POS[hi] == a:
            code = hi
        else:
            lo = hi - 1
            dl, dh = a - _POS[lo], _POS[hi] - a
            code = lo if dl < dh else hi if dh < dl else (lo if lo % 2 == 0 else hi)
        res[i] = sign | code
    return out


def e8m0_rceil(amax):
    """RCEIL byte of a group's amax (float32): ceil(log2(amax * fl(1/448))) + 127, clamped; Inf -> 0xFE."""
    amax = np.float32(amax)
    if np.isinf(amax):
        return 0xFE
    s = np.float32(amax * np.float32(1.0 / 448.0))
    if s == 0:
        return 0
    m, e = np.frexp(np.float64(s))  # s = m * 2^e, m in [0.5, 1)
    ceil_log2 = e - 1 if m == 0.5 else e
    return int(min(max(ceil_log2 + 127, 0), 254))


def e8m0_floor(amax):
    """FLOOR byte: floor(log2(amax)) + 127 - 8, clamped to [0, 254]; subnormal amax -> 0; Inf -> 0xFF."""
    amax = np.float32(amax)
    if np.isinf(amax):
        return 0xFF
    if amax < np.float32(2.0 ** -126):  # zero or subnormal
        return 0
    m, e = np.frexp(np.float64(amax))
    return int(min(max((e - 1) + 127 - 8, 0), 254))


def _amax(g):
    a = np.abs(g[~np.isnan(g)])
    return np.float32(a.max()) if a.size else np.float32(0)


def quantize_mx(x, rule="rceil", group=32):
    """Row-wise e8m0-scaled quantization: (codes uint8 [M, N], bytes uint8 [M, ceil(N/group)])."""
    x = np.asarray(x, np.float32)
    M, N = x.shape
    G = -(-N // group)
    q = np.empty((M, N), np.uint8)
    s = np.empty((M, G), np.uint8)
    with np.errstate(all="ignore"):
        for r in range(M):
            for g in range(G):
                seg = x[r, g * group:(g + 1) * group]
                amax = _amax(seg)
                byte = e8m0_rceil(amax) if rule == "rceil" else e8m0_floor(amax)
                s[r, g] = byte
                if byte == 0xFF:
                    q[r, g * group:(g + 1) * group] = 0x7F
                    continue
                mult = np.float32(2.0 ** (127 - byte))  # exact, 2^-127 is an FP32 subnormal
                q[r, g * group:(g + 1) * group] = e4m3_encode(seg * mult)
    return q, s


def quantize_g128_fp32(x):
    """(codes [M, N], FP32 scales [M, ceil(N/128)] logical)."""
    x = np.asarray(x, np.float32)
    M, N = x.shape
    G = -(-N // 128)
    q = np.empty((M, N), np.uint8)
    s = np.empty((M, G), np.float32)
    with np.errstate(all="ignore"):
        for r in range(M):
            for g in range(G):
                seg = x[r, g * 128:(g + 1) * 128]
                amax = _amax(seg)
                if amax == 0:
                    sc, rc = np.float32(1), np.float32(1)
                else:
                    sc = np.float32(amax) / np.float32(448.0)
                    rc = np.float32(1.0) / sc
                s[r, g] = sc
                q[r, g * 128:(g + 1) * 128] = e4m3_encode(seg * rc)
    return q, s


def quantize_g128_ue8m0(x):
    q, b = quantize_mx(x, "rceil", 128)
    return q, np.array([[np.float32(2.0 ** (int(v) - 127)) for v in row] for row in b], np.float32).reshape(b.shape)


def blocked128x4(s):
    """Compact [rows, cols] scale bytes -> the blocked128x4 byte buffer (FORMAT.md §2), zero padded."""
    rows, cols = s.shape
    pr, pc = -(-rows // 128) * 128, -(-cols // 4) * 4
    out = np.zeros(pr * pc, np.uint8)
    for r in range(rows):
        for c in range(cols):
            tile = (r // 128) * (pc // 4) + c // 4
            rr = r % 128
            out[tile * 512 + (rr % 32) * 16 + (rr // 32) * 4 + c % 4] = s[r, c]
    return out.reshape(pr, pc)


def to_bf16(x):
    """FP32 -> bf16 bits by comparing the two bf16 neighbours (ties to even)."""
    x = np.asarray(x, np.float32)
    u = x.view(np.uint32).reshape(-1)
    out = np.empty(u.shape, np.uint16)
    for i, bits in enumerate(u):
        v = np.float64(np.uint32(bits).view(np.float32))
        if np.isnan(v):
            out[i] = (bits >> 16) | 0x40
            continue
        if np.isinf(v):
            out[i] = bits >> 16
            continue
        lo = np.uint32(bits & 0xFFFF0000)
        hi = np.uint32(lo + 0x10000)
        vlo = np.float64(lo.view(np.float32))
        hv = np.float64(hi.view(np.float32))
        vhi = np.copysign(2.0 ** 128, v) if np.isinf(hv) else hv  # past the largest finite: the overflow point
        dl, dh = abs(v - vlo), abs(vhi - v)
        if dl < dh or (dl == dh and ((lo >> 16) & 1) == 0):
            out[i] = lo >> 16
        else:
            out[i] = hi >> 16
    return out.reshape(x.shape)


def gemm_nt(a_codes, sfa, b_codes, sfb):
    """FP64 (A*SFA)(B*SFB)^T from codes and logical scales (sfa [M, kb], sfb [nb, kb])."""
    A = _TABLE[a_codes]
    B = _TABLE[b_codes]
    M, K = A.shape
    N = B.shape[0]
    kidx = np.arange(K) // 128
    A = A * sfa.astype(np.float64)[:, kidx]
    B = B * sfb.astype(np.float64)[np.arange(N) // 128][:, kidx]
    return A @ B.T
