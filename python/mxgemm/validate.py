"""Argument checks without a launch, for any arrays (CPU ones included) and any device description.

Each function runs exactly the checks of the launching function of the same name in ``mxgemm`` (dtype ->
TypeError, shape/stride -> ValueError) and then the C++ mxgemm::validate() against ``device`` =
(cc_major, cc_minor, num_sms), default an H100 (9, 0, 132); it returns None or raises like the real call would
(ValueError with the C++ message, UnsupportedError for a device that is not SM90). Nothing is launched and
nothing is read or written through the pointers, so CPU arrays (NumPy, torch CPU) stand in for device ones.
"""
import mxgemm as _mx

H100 = (9, 0, 132)

__all__ = ["fp8_gemm_nt", "m_grouped_fp8_gemm_nt_contiguous", "m_grouped_fp8_gemm_nt_masked", "quantize_into", "H100"]


def fp8_gemm_nt(a, b, d, *, out_format=None, scale_rule="rceil", scale_layout="compact", pdl=False, device=H100):
    _mx.fp8_gemm_nt(a, b, d, out_format=out_format, scale_rule=scale_rule, scale_layout=scale_layout, pdl=pdl,
                    _validate_only=tuple(device))


def m_grouped_fp8_gemm_nt_contiguous(a, b, d, layout, *, out_format=None, scale_rule="rceil",
                                     scale_layout="compact", device=H100):
    _mx.m_grouped_fp8_gemm_nt_contiguous(a, b, d, layout, out_format=out_format, scale_rule=scale_rule,
                                         scale_layout=scale_layout, _validate_only=tuple(device))


def m_grouped_fp8_gemm_nt_masked(a, b, d, masked_m, expected_m=0, *, out_format=None, scale_rule="rceil",
                                 scale_layout="compact", device=H100):
    _mx.m_grouped_fp8_gemm_nt_masked(a, b, d, masked_m, expected_m, out_format=out_format, scale_rule=scale_rule,
                                     scale_layout=scale_layout, _validate_only=tuple(device))


def quantize_into(x, d_fp8, d_sf, *, out_format="mxfp8", scale_rule="rceil", scale_layout="compact",
                  columnwise=False, device=H100):
    _mx.quantize_into(x, d_fp8, d_sf, out_format=out_format, scale_rule=scale_rule, scale_layout=scale_layout,
                      columnwise=columnwise, _validate_only=tuple(device))
