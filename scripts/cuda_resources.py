#!/usr/bin/env python3
"""Resource usage of every CUDA kernel, from ptxas: registers, stack, spills, shared memory.

Compiles each kernels/cuda/*.cu for each architecture the build targets with `ptxas -v` and
prints one markdown table row per kernel and architecture (the table of docs/kernels.md).
With --check it exits 1 if any kernel spills registers (spill stores or loads above 0); CI runs
it as the ctest entry `cuda_resources`. No GPU is needed: this is the compiler's report.

Usage: scripts/cuda_resources.py [--nvcc PATH] [--arch 75,80,86,89,90] [--check]
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers(?:, used \d+ barriers)?(?:, (\d+) bytes smem)?")


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True,
                             check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return names
    # Keep the kernel's own name: drop the namespace and the parameter list.
    short = []
    for full in out:
        base = full.replace("(anonymous namespace)::", "").split("(")[0]
        short.append(base.split("::")[-1])
    return short


def kernels_of(nvcc, source, arch):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [nvcc, "-std=c++20", f"-I{REPO}", f"-arch=sm_{arch}", "--cubin", "-Xptxas=-v",
               "-o", os.path.join(tmp, "out.cubin"), source]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"cuda_resources: {' '.join(cmd)} failed:\n{proc.stderr}")
    rows, current = [], None
    for line in proc.stderr.splitlines():
        if m := ENTRY.search(line):
            current = {"kernel": m.group(1), "arch": m.group(2)}
        elif current and (m := FRAME.search(line)):
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)),
                           spill_loads=int(m.group(3)))
        elif current and (m := USED.search(line)):
            current.update(registers=int(m.group(1)), smem=int(m.group(2) or 0))
            rows.append(current)
            current = None
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nvcc", default="nvcc")
    ap.add_argument("--arch", default="75,80,86,89,90")
    ap.add_argument("--check", action="store_true", help="exit 1 on any register spill")
    args = ap.parse_args()

    sources = sorted(glob.glob(os.path.join(REPO, "kernels", "cuda", "*.cu")))
    rows = []
    for source in sources:
        for arch in args.arch.split(","):
            for r in kernels_of(args.nvcc, source, arch):
                r["file"] = os.path.basename(source)
                rows.append(r)
    for r, name in zip(rows, demangle([r["kernel"] for r in rows])):
        r["name"] = name

    print("| file | kernel | arch | registers | stack (B) | spill stores / loads (B) | "
          "static smem (B) |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['file']}` | `{r['name']}` | {r['arch']} | {r['registers']} | {r['stack']} "
              f"| {r['spill_stores']} / {r['spill_loads']} | {r['smem']} |")
    spills = [r for r in rows if r["spill_stores"] or r["spill_loads"]]
    kernels = len({(r["file"], r["kernel"]) for r in rows})
    print(f"\ncuda resources: {kernels} kernels in {len(sources)} files, "
          f"{len(args.arch.split(','))} architectures, {len(spills)} spilling")
    if args.check and spills:
        for r in spills:
            print(f"cuda_resources: {r['name']} ({r['file']}, {r['arch']}) spills "
                  f"{r['spill_stores']} B / {r['spill_loads']} B", file=sys.stderr)
        return 1
    if not rows:
        print("cuda_resources: no kernels found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
