#!/usr/bin/env python3
"""A/B summary of two builds' mxgemm-bench runs, alternated over two rounds on one device call.

usage: scripts/ab_summary.py PREFIX BASE NEW
Reads PREFIX-{BASE,NEW}-{1,2}.json (mxgemm-bench --mode gemm output) and prints, per shape and format, the mean of
the two rounds' CUDA-graph time per call (graph_us_per_call) of each build and NEW's change against BASE.
"""
import collections
import json
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    prefix, base, new = sys.argv[1:4]
    table = collections.defaultdict(dict)
    for build in (base, new):
        for rnd in (1, 2):
            with open(f"{prefix}-{build}-{rnd}.json") as f:
                for r in json.load(f)["rows"]:
                    # (a forced tile that a format does not compile, e.g. g128 at 64x64, has no time)
                    if r["op"] == "gemm_nt" and "graph_us_per_call" in r:
                        table[(r["M"], r["N"], r["K"], r["format"])][f"{build}{rnd}"] = r["graph_us_per_call"]
    for (m, n, k, fmt), d in table.items():
        if len(d) != 4:  # an A/B is only meaningful over the same rows in all four runs
            sys.exit(f"{m}x{n}x{k} {fmt}: timed in {sorted(d)} only, not in all of "
                     f"{base}1 {base}2 {new}1 {new}2")
    print(f"graph us per call, mean of two alternating rounds: {base} vs {new}")
    for (m, n, k, fmt), d in table.items():
        b = (d[base + "1"] + d[base + "2"]) / 2
        x = (d[new + "1"] + d[new + "2"]) / 2
        print(f"{m}x{n}x{k} {fmt:<6} {base} {b:8.2f} {new} {x:8.2f} ({x / b - 1:+.1%})")


if __name__ == "__main__":
    main()
