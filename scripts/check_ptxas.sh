#!/usr/bin/env bash
# After a build: print every kernel's resource usage (registers, static shared memory, stack, spills, local
# memory) and fail if any kernel uses local memory, a stack frame or spills. Our kernels keep accumulators and
# fragments in registers by design; local memory in a GEMM mainloop or epilogue is a silent 2-10x slowdown, so it
# is a build failure, not a warning.
#
#   scripts/check_ptxas.sh [build_dir]        (default: build; run ./scripts/test.sh or a cmake build first)
#
# The numbers come from ptxas itself: each CUDA source of the library is compiled again, device side only
# (-cubin), with the exact flags of the build from compile_commands.json plus `-Xptxas -v`, and ptxas's report is
# parsed, including its performance diagnostics: C7514/C7518 and the rest of C751x (wgmma serialised), C7517
# (warpgroup.wait injected) and C7508 (setmaxnreg ignored) fail the check as spills do.
# MXGEMM_CHECK_PTXAS_MODE=cuobjdump reads `cuobjdump -res-usage <build>/libmxgemm.a` instead (quicker, but its table
# has no diagnostics: session 6 missed a C7517 that way, because the device check ran in that mode while CI parsed
# ptxas; so the default is the same everywhere).
# With no kernels in the library yet it prints an empty table and passes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${1:-build}"
JOBS="${MXGEMM_JOBS:-2}"
LIBRARY="$BUILD_DIR/libmxgemm.a"

if [[ ! -f "$LIBRARY" ]]; then
  echo "check_ptxas: $LIBRARY not found: build first (./scripts/test.sh)" >&2
  exit 2
fi

MODE="${MXGEMM_CHECK_PTXAS_MODE:-ptxas}"
REPORT=""
case "$MODE" in
  cuobjdump)
    CUOBJDUMP="$(command -v cuobjdump || true)"
    if [[ -z "$CUOBJDUMP" ]]; then
      NVCC_PATH="$(command -v nvcc || true)"
      if [[ -n "$NVCC_PATH" && -x "$(dirname "$NVCC_PATH")/cuobjdump" ]]; then CUOBJDUMP="$(dirname "$NVCC_PATH")/cuobjdump"; fi
    fi
    if [[ -z "$CUOBJDUMP" ]]; then
      echo "check_ptxas: MXGEMM_CHECK_PTXAS_MODE=cuobjdump but no cuobjdump on PATH or beside nvcc" >&2
      exit 2
    fi
    echo "check_ptxas: $CUOBJDUMP -res-usage $LIBRARY (no ptxas diagnostics in this mode)"
    REPORT="$("$CUOBJDUMP" -res-usage "$LIBRARY" 2>&1 || true)"
    ;;
  ptxas)
    if [[ ! -f "$BUILD_DIR/compile_commands.json" ]]; then
      # Re-configuring only adds the compile database; nothing is rebuilt.
      cmake -S . -B "$BUILD_DIR" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
    fi
    echo "check_ptxas: recompiling the library's CUDA sources with -cubin -Xptxas -v ($JOBS jobs)"
    ;;
  *)
    echo "check_ptxas: MXGEMM_CHECK_PTXAS_MODE=$MODE: must be ptxas (default) or cuobjdump" >&2
    exit 2
    ;;
esac

REPORT="$REPORT" MODE="$MODE" BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" python3 - <<'PYTHON'
import concurrent.futures, json, os, re, shlex, shutil, subprocess, sys, tempfile

mode, build_dir, jobs = os.environ["MODE"], os.environ["BUILD_DIR"], int(os.environ["JOBS"])
kernels = {}  # mangled name -> dict of numbers (max over architectures / translation units)

def record(name, **values):
    entry = kernels.setdefault(name, {"REG": 0, "SHARED": 0, "STACK": 0, "SPILL_ST": 0, "SPILL_LD": 0, "LOCAL": 0})
    for key, value in values.items():
        entry[key] = max(entry[key], value)

if mode == "cuobjdump":
    current = None
    for line in os.environ["REPORT"].splitlines():
        m = re.match(r"\s*Function (\S+):\s*$", line)
        if m:
            current = m.group(1)
            continue
        if current and "REG:" in line:
            fields = dict(re.findall(r"(\w+(?:\[\d+\])?):(\d+)", line))
            record(current, REG=int(fields.get("REG", 0)), SHARED=int(fields.get("SHARED", 0)),
                   STACK=int(fields.get("STACK", 0)), LOCAL=int(fields.get("LOCAL", 0)))
            current = None
else:
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        database = json.load(f)
    library_dirs = ("/src/kernels/", "/src/host/")
    units = [u for u in database if u["file"].endswith(".cu") and any(d in u["file"] for d in library_dirs)]
    scratch = tempfile.mkdtemp(prefix="check_ptxas_")

    def device_only_command(unit, index):
        args = shlex.split(unit["command"]) if "command" in unit else list(unit["arguments"])
        out, skip_next, result = os.path.join(scratch, f"unit{index}.cubin"), False, []
        for i, arg in enumerate(args):
            if skip_next:
                skip_next = False
                continue
            if arg in ("-o", "-MT", "-MF"):
                skip_next = True
                continue
            if arg in ("-MD", "-MMD"):
                continue
            result.append("-cubin" if arg == "-c" else arg)
        return result + ["-Xptxas=-v", "-o", out]

    def compile_unit(indexed):
        index, unit = indexed
        proc = subprocess.run(device_only_command(unit, index), cwd=unit["directory"], capture_output=True, text=True)
        return unit["file"], proc.returncode, proc.stdout + proc.stderr

    failed_units = []
    # ptxas performance diagnostics that mean a wgmma pipeline was silently serialized or a register split ignored:
    # C7514 / C7518 (wgmma serialized), C7517 (warpgroup.wait injected), C7508 (setmaxnreg ignored), and the rest of
    # the C751x family (all "wgmma serialized" variants). Treated as failures.
    perf_warnings = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for path, rc, text in pool.map(compile_unit, enumerate(units)):
            if rc != 0:
                failed_units.append(path)
                sys.stderr.write(f"check_ptxas: device compile of {path} failed:\n{text}\n")
                continue
            entry = None
            for line in text.splitlines():
                if re.search(r"\(C75(08|1[0-9])\)", line):
                    perf_warnings.append(f"{path}: {line.strip()[:240]}")
                m = re.search(r"Compiling entry function '([^']+)'", line)
                if m:
                    entry = m.group(1)
                    record(entry)
                    continue
                m = re.search(r"Function properties for (\S+)", line)
                if m:
                    entry = m.group(1)
                    record(entry)
                    continue
                m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
                if m and entry:
                    record(entry, STACK=int(m.group(1)), SPILL_ST=int(m.group(2)), SPILL_LD=int(m.group(3)))
                    continue
                m = re.search(r"Used (\d+) registers", line)
                if m and entry:
                    smem = re.search(r"(\d+) bytes smem", line)
                    lmem = re.search(r"(\d+) bytes lmem", line)
                    stack = re.search(r"(\d+) bytes cumulative stack size", line)
                    record(entry, REG=int(m.group(1)), SHARED=int(smem.group(1)) if smem else 0,
                           LOCAL=int(lmem.group(1)) if lmem else 0, STACK=int(stack.group(1)) if stack else 0)
    shutil.rmtree(scratch, ignore_errors=True)
    if failed_units:
        print(f"check_ptxas: FAIL: {len(failed_units)} translation unit(s) did not compile")
        sys.exit(1)
    if perf_warnings:
        print(f"check_ptxas: FAIL: {len(perf_warnings)} ptxas wgmma/setmaxnreg performance diagnostic(s):")
        for w in perf_warnings:
            print(f"  {w}")
        sys.exit(1)

def demangle(names):
    if not names or not shutil.which("c++filt"):
        return {n: n for n in names}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return dict(zip(names, out)) if len(out) == len(names) else {n: n for n in names}

names = sorted(kernels)
readable = demangle(names)
columns = ("REG", "SHARED", "STACK", "SPILL_ST", "SPILL_LD", "LOCAL")
# Numbers first, full demangled name last: template arguments are what tells two instances apart.
print(" ".join(f"{c:>8}" for c in columns) + "  kernel")
bad = []
for name in names:
    k = kernels[name]
    print(" ".join(f"{k[c]:>8}" for c in columns) + "  " + readable[name])
    if k["STACK"] or k["SPILL_ST"] or k["SPILL_LD"] or k["LOCAL"]:
        bad.append(readable[name])
print(f"check_ptxas: {len(names)} kernel(s) ({mode})")
if bad:
    print(f"check_ptxas: FAIL: {len(bad)} kernel(s) use local memory, a stack frame or spill registers:")
    for name in bad:
        print(f"  {name}")
    sys.exit(1)
print("check_ptxas: OK (no local memory, no stack, no spills)")
PYTHON
