#!/usr/bin/python3
"""Cross-checks every op of LDM_OPS against PyTorch on the same inputs.

For each case (cases_nn.py, cases_diffusion.py) this writes the float32 inputs and random
upstream gradients to a safetensors file, runs `ldm-opcheck CASE.json` (forward, then backward
with those gradients), and compares its outputs and input gradients with a float64 PyTorch
reference computed from the same float32 values: |ours - ref| <= atol + rtol * |ref|, per-op
tolerances as commented in the case files. Fails when an op listed by `ldm-opcheck --list` has
no case, so a new op without a PyTorch case breaks the suite.

Usage: /usr/bin/python3 tests/torch/crosscheck.py --opcheck build/tests/ldm-opcheck
       [-k SUBSTRING] [--keep DIR] [-v]
(Debian's python3 has torch; a pyenv python3 on PATH may not.)"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import cases_diffusion  # noqa: E402
import cases_nn  # noqa: E402
import st_io  # noqa: E402
from common import UPDATE_OPS, Rand  # noqa: E402


def reference_results(case):
    """Float64 PyTorch outputs and input gradients, and the upstream gradients we feed both."""
    differentiable = case.op not in UPDATE_OPS
    tensors = {}
    for name, array in case.inputs.items():
        if array.dtype == np.int32:
            tensors[name] = torch.from_numpy(array.astype(np.int64))
        else:
            t = torch.from_numpy(array).to(torch.float64)  # a copy: inputs stay untouched
            tensors[name] = t.requires_grad_(differentiable)
    outputs = case.reference(tensors)
    diff_names = [n for n in sorted(outputs) if outputs[n].requires_grad]
    rand = Rand(case.op, case.name, salt="/upstream")
    upstream = {n: rand.normal(*outputs[n].shape) for n in diff_names}
    ref = {n: t.detach().numpy() for n, t in outputs.items()}
    leaves = [n for n in sorted(tensors) if tensors[n].requires_grad]
    if diff_names and leaves:
        grads = torch.autograd.grad(
            [outputs[n] for n in diff_names], [tensors[n] for n in leaves],
            grad_outputs=[torch.from_numpy(upstream[n]).to(torch.float64) for n in diff_names],
            allow_unused=True)
        for name, grad in zip(leaves, grads):
            ref["grad." + name] = (np.zeros(case.inputs[name].shape) if grad is None
                                   else grad.numpy())
    return ref, {"grad." + n: g for n, g in upstream.items()}


def compare(case, name, ours, ref):
    """(ok, max abs error, max rel error, tolerance use, message) for one tensor. Tolerance use
    is the largest |diff| / (atol + rtol |ref|): below 1 passes."""
    def failure(message):
        return False, 0.0, 0.0, float("inf"), f"{name}: {message}"

    if ours.shape != ref.shape:
        return failure(f"shape {ours.shape}, expected {ref.shape}")
    if name in case.exact_int:
        if ours.dtype != np.int32:
            return failure(f"dtype {ours.dtype}, expected int32")
        wrong = np.flatnonzero(ours.astype(np.int64).ravel() != ref.ravel())
        if wrong.size:
            i = wrong[0]
            return failure(f"{wrong.size} of {ref.size} differ, first at flat index {i}: "
                           f"{ours.ravel()[i]} vs {ref.ravel()[i]}")
        return True, 0.0, 0.0, 0.0, ""
    if ours.dtype != np.float32:
        return failure(f"dtype {ours.dtype}, expected float32")
    if ref.size == 0:
        return True, 0.0, 0.0, 0.0, ""
    tol = case.tol(name)
    diff = np.abs(ours.astype(np.float64) - ref).ravel()
    bound = (tol.atol + tol.rtol * np.abs(ref)).ravel()
    if not np.all(np.isfinite(ours)):
        i = int(np.flatnonzero(~np.isfinite(ours.ravel()))[0])
        return failure(f"non-finite value {ours.ravel()[i]} at flat index {i}")
    with np.errstate(divide="ignore", invalid="ignore"):
        use = np.where(diff == 0, 0.0, diff / bound)  # inf where the bound is 0
    nonzero = ref.ravel() != 0
    max_rel = float(np.max(diff[nonzero] / np.abs(ref.ravel()[nonzero]))) if nonzero.any() else 0.0
    i = int(np.argmax(use))
    if use[i] > 1:
        where = list(np.unravel_index(i, ref.shape)) if ref.shape else []
        return (False, float(diff.max()), max_rel, float(use[i]),
                f"{name}: {int((use > 1).sum())} of {ref.size} outside atol {tol.atol:.2g} + "
                f"rtol {tol.rtol:.2g} * |ref|; worst at {where}: ours {ours.ravel()[i]:.9g}, "
                f"ref {ref.ravel()[i]:.9g}, |diff| {diff[i]:.3g} > {bound[i]:.3g}")
    return True, float(diff.max()), max_rel, float(use[i]), ""


def run_case(case, opcheck, workdir, index):
    stem = os.path.join(workdir, f"case{index:03d}")
    try:
        ref, upstream = reference_results(case)
    except Exception as e:  # a broken reference is a failure of this case, not of the run
        return False, f"reference failed: {type(e).__name__}: {e}", []
    st_io.save(stem + ".in.safetensors", {**case.inputs, **upstream})
    with open(stem + ".json", "w") as f:
        json.dump({"op": case.op, "params": case.params, "inputs": stem + ".in.safetensors",
                   "output": stem + ".out.safetensors"}, f, indent=1)
    proc = subprocess.run([opcheck, stem + ".json"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return False, f"ldm-opcheck exit {proc.returncode}: {proc.stderr.strip()}", []
    ours = st_io.load(stem + ".out.safetensors")
    problems, rows = [], []
    for name in sorted(set(ref) - set(ours)):
        problems.append(f"{name}: missing from ldm-opcheck's output")
    for name in sorted(set(ours) - set(ref)):
        problems.append(f"{name}: ldm-opcheck wrote it, the reference has no such tensor")
    for name in sorted(set(ref) & set(ours)):
        ok, max_abs, max_rel, use, msg = compare(case, name, ours[name], ref[name])
        rows.append((name, max_abs, max_rel, use))
        if not ok:
            problems.append(msg)
    return not problems, "\n      ".join(problems), rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opcheck", required=True, help="path to the ldm-opcheck executable")
    parser.add_argument("-k", dest="filter", default="", help="run only cases whose "
                        "'op / name' contains this text (coverage is still checked)")
    parser.add_argument("--keep", metavar="DIR", help="write case files here and keep them")
    parser.add_argument("-v", "--verbose", action="store_true", help="per-tensor errors")
    args = parser.parse_args()
    start = time.time()
    torch.set_num_threads(1)  # small shapes: threads only add start-up time

    listed = subprocess.run([args.opcheck, "--list"], capture_output=True, text=True)
    ops = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
    if listed.returncode != 0 or not ops:
        print(f"{args.opcheck} --list failed (exit {listed.returncode}): {listed.stderr.strip()}")
        return 1
    all_cases = cases_nn.cases() + cases_diffusion.cases()
    titles = [c.title for c in all_cases]
    assert len(set(titles)) == len(titles), "two cases with one name"
    selected = [c for c in all_cases if args.filter in c.title]

    passed, failed = 0, 0
    op_ok = {}
    workdir = args.keep or tempfile.mkdtemp(prefix="ldm-torchcheck-")
    os.makedirs(workdir, exist_ok=True)
    try:
        for i, case in enumerate(selected):
            if case.op not in ops:
                ok, msg, rows = False, "not an op of ldm-opcheck --list", []
            else:
                ok, msg, rows = run_case(case, args.opcheck, workdir, i)
            passed += ok
            failed += not ok
            op_ok[case.op] = op_ok.get(case.op, True) and ok
            worst = max(rows, key=lambda r: r[3], default=("-", 0, 0, 0))
            print(f"{'PASS' if ok else 'FAIL'}  {case.title:<58} "
                  f"max abs {max((r[1] for r in rows), default=0):8.2e}  "
                  f"max rel {max((r[2] for r in rows), default=0):8.2e}  "
                  f"tol use {worst[3]:5.3f} ({worst[0]})", flush=True)
            if args.verbose:
                for name, max_abs, max_rel, use in rows:
                    print(f"        {name:<16} abs {max_abs:8.2e}  rel {max_rel:8.2e}  "
                          f"tol use {use:6.3f}")
            if not ok:
                print(f"      {msg}", flush=True)
    finally:
        if not args.keep:
            for name in os.listdir(workdir):
                os.remove(os.path.join(workdir, name))
            os.rmdir(workdir)

    missing = [op for op in ops if op not in {c.op for c in all_cases}]
    for op in missing:
        print(f"FAIL  {op}: op of LDM_OPS without a PyTorch case (add one in tests/torch/)")
    failed += len(missing)
    ops_passed = sum(1 for op in ops if op_ok.get(op, False))
    print(f"({time.time() - start:.1f} s)")
    print(f"torch cross-check: {ops_passed} of {len(ops)} ops, {passed} cases passed")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
