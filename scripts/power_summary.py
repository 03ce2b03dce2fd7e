#!/usr/bin/env python3
"""Energy per call from a power burn: each burn runs one kernel back to back for ~2 s while nvidia-smi samples the
SM clock and the board power every 20 ms (the H100 runs these GEMMs at its 700 W power cap, so the time per call
follows the energy per call). Averages the samples inside each burn (its first 0.8 s and last 0.1 s dropped: power
and clock settle) and writes one JSON row per burn: us per call (the harness's events over the whole loop), mean SM
clock, mean power.draw.instant, energy per call (power x time) and SM cycles per call (clock x time).

  python3 scripts/power_summary.py BURN.jsonl SMI.csv > SUMMARY.json

BURN.jsonl: one object per line, {"label", "t0", "t1" (epoch seconds), "out": {"us_per_call", ...}}.
SMI.csv: `nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,power.draw.instant,temperature.gpu
--format=csv,noheader -lms 20` (timestamps in UTC, as on the device).
"""
import datetime
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    samples = []
    for line in open(sys.argv[2]):
        f = [x.strip() for x in line.split(',')]
        if len(f) < 5:
            continue
        try:
            t = datetime.datetime.strptime(f[0], '%Y/%m/%d %H:%M:%S.%f').replace(
                tzinfo=datetime.timezone.utc).timestamp()
            samples.append((t, float(f[1].split()[0]), float(f[3].split()[0]), float(f[4])))
        except ValueError:
            continue
    rows = []
    for line in open(sys.argv[1]):
        b = json.loads(line)
        inside = [s for s in samples if b['t0'] + 0.8 <= s[0] <= b['t1'] - 0.1]
        us = b['out']['us_per_call']
        row = {'label': b['label'], 'shape': b['out'].get('shape'), 'fmt': b['out'].get('fmt'), 'us_per_call': us,
               'samples': len(inside)}
        if inside:
            clock = sum(s[1] for s in inside) / len(inside)
            power = sum(s[2] for s in inside) / len(inside)
            row.update({'sm_clock_mhz': round(clock), 'power_w': round(power, 1),
                        'energy_mj_per_call': round(power * us * 1e-3, 2),
                        'kcycles_per_call': round(clock * us * 1e-3, 1), 'max_temp_c': max(s[3] for s in inside)})
        rows.append(row)
    json.dump({'source': [sys.argv[1], sys.argv[2]], 'rows': rows}, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
