#!/usr/bin/python3
"""Side-by-side timing of our key training ops against PyTorch on this machine.

Runs ldm-op-bench (forward with tape + ldm::backward, manual time, medians of repetitions) on
the cases that dominate a training step, then times the same cases in PyTorch: the same shapes,
strides, paddings and the same inputs requiring grad, forward + backward from a fixed random
output gradient, leaf gradients reset to None between iterations outside the clock (as our
Tensor::zero_grad does), graph teardown outside the clock too. Each PyTorch repetition is the
mean of several iterations (at least --min-rep-time seconds, like Google Benchmark's min_time),
after untimed warm-up passes; the reported value is the median over repetitions.

The PyTorch side of every case is written out below next to the C++ case it mirrors
(bench/op_bench_cases.cpp); names are generated the same way, so a case only pairs up when the
shapes, kernel, stride and padding encoded in its name agree. For conv2d, conv_transpose2d,
linear, attention and vector_quantize the script also recomputes our side's flop counts from
its JSON counters (rate x time) and checks them against the flops of the PyTorch tensors
actually built, including whether x requires grad (which decides whether a dgrad is counted).
Numerical agreement of the ops themselves is established separately by
tests/torch/crosscheck.py; this script only times.

Usage: /usr/bin/python3 bench/torch_op_bench.py --bench BUILD/bench/ldm-op-bench
       [--filter REGEX] [--repetitions N] [--min-rep-time SECONDS] [--json-out FILE]
       [--torch-omp-wait-policy passive|active]
(Debian's python3 has torch 1.13; a pyenv python3 on PATH may not.) The OPENBLAS_* variables
are reported as each process sees them and never changed. --filter is a regex on the Google
Benchmark names (which end in /manual_time); the same regex selects the PyTorch cases.

Debian's torch links the pthread build of OpenBLAS next to its OpenMP (libgomp) pool, so on 2
cores the two pools' idle-spinning workers take the core the other needs (the pitfall
docs/benchmarks.md describes for an earlier state of our tree). --torch-omp-wait-policy sets
OMP_WAIT_POLICY for the PyTorch process only, to show how much of its time that costs;
ldm-op-bench always runs with the environment the script was started with.
"""

import argparse
import ctypes
import datetime
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

# Imported by main() once the OpenMP environment of this process is settled: libgomp reads
# OMP_WAIT_POLICY when torch loads it.
torch = F = None

THREADS = 2
BATCH = 64
# The key training ops: every conv shape of the VQ-VAE and the U-Net, the normalization and
# activation, attention and its projections and layout permutes, the broadcast adds/muls, the
# losses, VQ, AdamW.
DEFAULT_FILTER = (r"^(conv2d|conv_transpose2d|group_norm|silu|attention|linear|add|mul|permute|"
                  r"mse_loss|vector_quantize|adamw_step)/")


def dims(shape):
    return "x".join(str(d) for d in shape)


class Case:
    """One PyTorch case. make(gen) builds the inputs; run(inputs) is the timed forward and
    returns the outputs to back-propagate from (the first gets the random output gradient, any
    others a zero one), or None for the in-place updates, which have no backward."""

    def __init__(self, name, make, run, flops=None, path=None):
        self.name, self.make, self.run = name, make, run
        self.flops = flops  # inputs -> (fwd_flops, bwd_flops), checked against our counters
        self.path = path    # inputs -> which PyTorch implementation runs (for the table)


def leaf(gen, shape, grad=True):
    return torch.randn(shape, generator=gen).requires_grad_(grad)


def conv_label(part, x, c_out, k, s, p):
    return f"{part}/{dims(x)}->{c_out}/k{k}s{s}p{p}"


def conv_backend(x, w, b, s, p, transposed):
    backend = torch._C._select_conv_backend(x, w, b, [s, s], [p, p], [1, 1], transposed, [0, 0], 1)
    return str(backend).split(".")[-1]


def conv(part, x, c_out, k, s, p, x_grad=True):
    def make(gen):
        return [leaf(gen, x, x_grad), leaf(gen, (c_out, x[1], k, k)), leaf(gen, (c_out,))]

    def flops(t):
        n, c, _, _ = t[0].shape
        y = F.conv2d(t[0].detach(), t[1].detach(), None, s, p)  # the shape torch really makes
        f = 2.0 * n * c_out * y.shape[2] * y.shape[3] * c * k * k
        return f, f * (2 if t[0].requires_grad else 1)

    return Case("conv2d/" + conv_label(part, x, c_out, k, s, p), make,
                lambda t: [F.conv2d(t[0], t[1], t[2], s, p)], flops,
                lambda t: conv_backend(t[0], t[1], t[2], s, p, False))


def conv_t(part, x, c_out, k, s, p):
    def make(gen):
        return [leaf(gen, x), leaf(gen, (x[1], c_out, k, k)), leaf(gen, (c_out,))]

    def flops(t):
        f = 2.0 * t[0].numel() * c_out * k * k
        return f, 2 * f

    return Case("conv_transpose2d/" + conv_label(part, x, c_out, k, s, p), make,
                lambda t: [F.conv_transpose2d(t[0], t[1], t[2], s, p)], flops,
                lambda t: conv_backend(t[0], t[1], t[2], s, p, True))


def group_norm(part, x, groups):
    return Case(f"group_norm/{part}/{dims(x)}/g{groups}",
                lambda gen: [leaf(gen, x), leaf(gen, (x[1],)), leaf(gen, (x[1],))],
                lambda t: [F.group_norm(t[0], groups, t[1], t[2], 1e-5)])


def silu(part, x):
    return Case(f"silu/{part}/{dims(x)}", lambda gen: [leaf(gen, x)], lambda t: [F.silu(t[0])])


def binary(op, part, a, b):
    sign = "+" if op == "add" else "*"
    return Case(f"{op}/{part}/{dims(a)}{sign}{dims(b)}", lambda gen: [leaf(gen, a), leaf(gen, b)],
                lambda t: [t[0] + t[1] if op == "add" else t[0] * t[1]])


def linear(part, x, n_out, x_grad):
    def make(gen):
        return [leaf(gen, x, x_grad), leaf(gen, (n_out, x[-1])), leaf(gen, (n_out,))]

    def flops(t):
        k = t[0].shape[-1]
        f = 2.0 * (t[0].numel() // k) * n_out * k
        return f, f * (2 if t[0].requires_grad else 1)

    return Case(f"linear/{part}/{dims(x)}->{n_out}", make,
                lambda t: [F.linear(t[0], t[1], t[2])], flops)


def attention(channels, side, heads):
    L, D = side * side, channels // heads
    qkv = (BATCH, heads, L, D)
    scale = 1 / math.sqrt(D)

    def run(t):
        # torch 1.13 has no fused scaled_dot_product_attention: the straightforward math version,
        # as in tests/torch/cases_nn.py.
        probs = torch.softmax(torch.matmul(t[0], t[1].transpose(-1, -2)) * scale, -1)
        return [torch.matmul(probs, t[2])]

    def flops(t):
        b, h, l, d = t[0].shape
        qk = 2.0 * b * h * l * l * d
        return 2 * qk, 4 * qk

    return Case(f"attention/unet/{dims(qkv)}/L{L}h{heads}",
                lambda gen: [leaf(gen, qkv), leaf(gen, qkv), leaf(gen, qkv)], run, flops)


def permute(part, x, order):
    y = tuple(x[d] for d in order)
    return Case(f"permute/{part}/{dims(x)}->{dims(y)}/{''.join(str(d) for d in order)}",
                lambda gen: [leaf(gen, x)], lambda t: [t[0].permute(*order).contiguous()])


def mse_loss(part, x):
    return Case(f"mse_loss/{part}/{dims(x)}", lambda gen: [leaf(gen, x), leaf(gen, x, False)],
                lambda t: [F.mse_loss(t[0], t[1])])


def vector_quantize(z, K, codebook_grad, beta=0.25):
    D = z[1]

    def make(gen):
        codebook = (torch.rand((K, D), generator=gen) * 2 - 1).requires_grad_(codebook_grad)
        return [leaf(gen, z), codebook]

    def run(t):
        z_e, c = t
        N, _, H, W = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, D)
        dist = (flat ** 2).sum(1, keepdim=True) - 2 * flat @ c.t() + (c ** 2).sum(1)
        idx = dist.argmin(1)
        z_q = c[idx].view(N, H, W, D).permute(0, 3, 1, 2)
        # Our op's forward also produces the codebook + commitment loss.
        loss = F.mse_loss(z_q, z_e.detach()) + beta * F.mse_loss(z_q.detach(), z_e)
        z_q_st = z_e + (z_q - z_e).detach()  # straight-through
        # Our case back-propagates from z_q; our autograd feeds the loss output a zero
        # gradient, so its backward also runs the commitment term and the codebook scatter.
        # Passing the loss with a zero gradient makes torch do the same.
        return [z_q_st, loss]

    def flops(t):
        pixels = t[0].numel() // D
        return 2.0 * pixels * K * D, None

    kind = "vq-learned" if codebook_grad else "vq-frozen"
    return Case(f"vector_quantize/{kind}/{dims(z)}/K{K}", make, run, flops)


def adamw_step(n):
    def make(gen):
        p = torch.randn((n,), generator=gen).requires_grad_(True)
        p.grad = torch.randn((n,), generator=gen) * 1e-3
        # The default implementation (foreach=None, i.e. the single-tensor loop in torch 1.13);
        # the hyperparameters of our case (lr 3e-4, the AdamWArgs defaults otherwise).
        opt = torch.optim.AdamW([p], lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        return [p, opt]

    def run(t):
        t[1].step()
        return None

    return Case(f"adamw_step/param/{n}", make, run,
                path=lambda t: "foreach" if t[1].defaults["foreach"] else "single-tensor")


def torch_cases():
    """Mirrors op_bench_cases() of bench/op_bench_cases.cpp for the ops compared here."""
    N = BATCH
    return [
        conv("unet", (N, 128, 8, 8), 128, 3, 1, 1),
        conv("unet", (N, 64, 8, 8), 64, 3, 1, 1),
        conv("unet", (N, 128, 4, 4), 128, 3, 1, 1),
        conv("unet-in", (N, 3, 8, 8), 64, 3, 1, 1, x_grad=False),
        conv("unet-skip", (N, 192, 8, 8), 64, 3, 1, 1),
        conv("unet-down", (N, 64, 8, 8), 128, 4, 2, 1),
        conv("unet-out", (N, 64, 8, 8), 3, 3, 1, 1),
        conv("vq-in", (N, 1, 32, 32), 32, 3, 1, 1, x_grad=False),
        conv("vq", (N, 32, 32, 32), 32, 3, 1, 1),
        conv("vq", (N, 64, 16, 16), 64, 3, 1, 1),
        conv("vq-down", (N, 32, 32, 32), 64, 4, 2, 1),
        conv("vq-down", (N, 64, 16, 16), 128, 4, 2, 1),
        conv("vq-proj", (N, 128, 8, 8), 3, 1, 1, 0),
        conv("vq-unproj", (N, 3, 8, 8), 128, 1, 1, 0),
        conv("vq-out", (N, 32, 32, 32), 1, 3, 1, 1),
        conv_t("vq-up", (N, 128, 8, 8), 64, 4, 2, 1),
        conv_t("vq-up", (N, 64, 16, 16), 32, 4, 2, 1),
        group_norm("vq", (N, 32, 32, 32), 8),
        group_norm("vq", (N, 64, 16, 16), 32),
        group_norm("vq+unet", (N, 128, 8, 8), 32),
        group_norm("unet", (N, 64, 8, 8), 32),
        group_norm("unet", (N, 128, 4, 4), 32),
        silu("vq", (N, 32, 32, 32)),
        silu("vq+unet", (N, 128, 8, 8)),
        silu("unet", (N, 128, 4, 4)),
        silu("unet-temb", (N, 512)),
        linear("unet-temb", (N, 128), 512, x_grad=False),
        linear("unet-temb", (N, 512), 512, x_grad=True),
        linear("unet-temb-proj", (N, 512), 128, x_grad=True),
        linear("unet-qkv", (N, 64, 64), 192, x_grad=True),
        linear("unet-attn-out", (N, 64, 64), 64, x_grad=True),
        attention(64, 8, 1),
        attention(64, 8, 4),
        attention(128, 4, 1),
        attention(128, 4, 4),
        binary("add", "vq-residual", (N, 32, 32, 32), (N, 32, 32, 32)),
        binary("add", "unet-residual", (N, 128, 8, 8), (N, 128, 8, 8)),
        binary("add", "unet-temb", (N, 128, 8, 8), (N, 128, 1, 1)),
        binary("mul", "unet", (N, 128, 8, 8), (N, 128, 8, 8)),
        binary("mul", "unet-film", (N, 128, 8, 8), (N, 128, 1, 1)),
        permute("unet-tokens", (N, 64, 64), (0, 2, 1)),
        permute("unet-tokens", (N, 128, 16), (0, 2, 1)),
        permute("unet-tokens", (N, 192, 64), (0, 2, 1)),
        permute("unet-untokens", (N, 64, 128), (0, 2, 1)),
        permute("unet-untokens", (N, 16, 128), (0, 2, 1)),
        permute("unet-qkv-split", (N, 64, 3, 4, 16), (2, 0, 3, 1, 4)),
        permute("unet-qkv-split", (N, 64, 3, 1, 64), (2, 0, 3, 1, 4)),
        permute("unet-qkv-split", (N, 16, 3, 4, 32), (2, 0, 3, 1, 4)),
        mse_loss("vq-recon", (N, 1, 32, 32)),
        mse_loss("unet-eps", (N, 3, 8, 8)),
        vector_quantize((N, 3, 8, 8), 4096, codebook_grad=False),
        vector_quantize((N, 3, 8, 8), 4096, codebook_grad=True),
        adamw_step(1_000_000),
        adamw_step(10_000_000),
    ]


def time_torch(case, repetitions, min_rep_time, warmup=2):
    """Median over repetitions of the mean fwd+bwd time of an iteration (seconds), plus the
    medians of the fwd and bwd parts and of each repetition's fastest iteration."""
    gen = torch.Generator().manual_seed(20240601)
    inputs = case.make(gen)
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    outs = case.run(inputs)
    grads = None
    if outs is not None:
        # Like ours: a random output gradient for a non-scalar output, 1 for a scalar one,
        # zero for any further output.
        first = outs[0]
        grads = [torch.randn(first.shape, generator=gen) if first.numel() > 1 else None]
        grads += [torch.zeros_like(o) for o in outs[1:]]
    has_backward = outs is not None
    outs = None

    def iteration():
        if has_backward:
            for t in leaves:
                t.grad = None
        t0 = time.perf_counter()
        y = case.run(inputs)
        t1 = time.perf_counter()
        if has_backward:
            torch.autograd.backward(y, grads)
        t2 = time.perf_counter()
        del y  # graph teardown and freeing the outputs: after the clock reads
        return t1 - t0, t2 - t1

    est = min(sum(iteration()) for _ in range(warmup))
    iters = max(3, math.ceil(min_rep_time / max(est, 1e-7)))
    totals, fwds, bwds, bests = [], [], [], []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repetitions):
            f_sum = b_sum = 0.0
            best = math.inf
            for _ in range(iters):
                f, b = iteration()
                f_sum, b_sum, best = f_sum + f, b_sum + b, min(best, f + b)
            totals.append((f_sum + b_sum) / iters)
            fwds.append(f_sum / iters)
            bwds.append(b_sum / iters)
            bests.append(best)
    finally:
        gc.enable()
    path = case.path(inputs) if case.path else ""
    return {"time": statistics.median(totals), "fwd": statistics.median(fwds),
            "bwd": statistics.median(bwds) if has_backward else None,
            "best": statistics.median(bests), "iterations": iters, "path": path,
            "flops": case.flops(inputs) if case.flops else None}


def run_ours(bench, regex, repetitions, env):
    """Runs ldm-op-bench; returns its JSON (all repetitions plus the aggregates)."""
    with tempfile.TemporaryDirectory(prefix="torch_op_bench-") as tmp:
        out = os.path.join(tmp, "ours.json")
        cmd = [bench, f"--benchmark_filter={regex}", f"--benchmark_repetitions={repetitions}",
               "--benchmark_display_aggregates_only=true", f"--benchmark_out={out}",
               "--benchmark_out_format=json"]
        print("running: " + " ".join(cmd), file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
        if proc.returncode != 0 or not os.path.exists(out):
            sys.stderr.write(proc.stdout)
            sys.exit(f"torch_op_bench: {bench} failed with exit code {proc.returncode}")
        with open(out) as f:
            return json.load(f), cmd


def case_name(run_name):
    return run_name[:-len("/manual_time")] if run_name.endswith("/manual_time") else run_name


def times(row):
    assert row["time_unit"] == "us", row["time_unit"]
    return {"time": row["real_time"] * 1e-6, "fwd": row["fwd_us"] * 1e-6,
            "bwd": row["bwd_us"] * 1e-6 if "bwd_us" in row else None,
            "best": row["best_us"] * 1e-6}


def parse_ours(data):
    """{case: {time, fwd, bwd, best (seconds), reps: [per-repetition rows]}} from the medians."""
    cases = {}
    for b in data["benchmarks"]:
        name = case_name(b["run_name"])
        entry = cases.setdefault(name, {"reps": []})
        if b.get("error_occurred"):
            entry["error"] = b.get("error_message", "error")
        elif b["run_type"] == "iteration":
            entry["reps"].append(b)
        elif b.get("aggregate_name") == "median":
            entry.update(times(b))
    for entry in cases.values():
        if "time" not in entry and len(entry["reps"]) == 1:  # one repetition: no aggregates
            entry.update(times(entry["reps"][0]))
    return cases


def check_flops(name, ours, expected):
    """Our flops per pass, recomputed from each repetition's rate and time counters, must be
    what the PyTorch tensors imply: same shapes, and a dgrad exactly where x requires grad."""
    problems = []
    for key, want in zip(("fwd", "bwd"), expected):
        if want is None:
            continue
        for rep in ours["reps"]:
            rate, us = rep.get(f"{key}_GFLOP/s"), rep.get(f"{key}_us")
            if rate is None or us is None:
                problems.append(f"{name}: our JSON has no {key}_GFLOP/s / {key}_us")
                break
            got = rate * us * 1e3
            if abs(got - want) > 1e-4 * want:
                problems.append(f"{name}: {key} flops ours {got:.6g}, torch shapes {want:.6g}")
                break
    return problems


def openblas_in_this_process():
    """The OpenBLAS that torch loaded (Debian's torch links libblas.so.3 -> OpenBLAS)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line and "/" in line})
        if not paths:
            return "(none loaded)", ""
        lib = ctypes.CDLL(paths[0])
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib.openblas_get_config().decode(), str(lib.openblas_get_num_threads())
    except (OSError, AttributeError) as e:
        return f"(unknown: {e})", ""


def fmt_ms(seconds):
    if seconds is None:
        return "—"
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.3f}"


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, help="path to the ldm-op-bench binary")
    ap.add_argument("--filter", default=DEFAULT_FILTER, help="regex on case names (both sides)")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-rep-time", type=float, default=0.1,
                    help="seconds of iterations per PyTorch repetition (ours: min_time 0.1)")
    ap.add_argument("--json-out", help="also write all numbers to this JSON file")
    ap.add_argument("--torch-omp-wait-policy", choices=("passive", "active"),
                    help="OMP_WAIT_POLICY for the PyTorch side only (default: as inherited)")
    args = ap.parse_args()
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"torch_op_bench: {args.bench} is not an executable (build ldm-op-bench)")
    try:
        regex = re.compile(args.filter)
    except re.error as e:
        sys.exit(f"torch_op_bench: bad --filter: {e}")
    if args.repetitions < 1:
        sys.exit("torch_op_bench: --repetitions must be >= 1")

    ours_env = dict(os.environ)  # ldm-op-bench gets the environment we were started with
    if args.torch_omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.torch_omp_wait_policy.upper()
    global torch, F
    import torch  # noqa: F811
    import torch.nn.functional as F  # noqa: F811

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    wall0 = time.perf_counter()

    data, cmd = run_ours(args.bench, args.filter, args.repetitions, ours_env)
    ours = parse_ours(data)
    load_mid = os.getloadavg()

    torch.set_num_threads(THREADS)
    selected = [c for c in torch_cases() if regex.search(c.name + "/manual_time")]
    problems = [f"{c.name}: ldm-op-bench has no such case" for c in selected if c.name not in ours]
    known = {c.name for c in torch_cases()}
    problems += [f"{n}: no PyTorch counterpart in this script" for n in ours if n not in known]
    problems += [f"{n}: ours failed: {e['error']}" for n, e in ours.items() if "error" in e]

    rows = []
    for case in selected:
        if case.name not in ours or "error" in ours[case.name]:
            continue
        print(f"torch: {case.name}", file=sys.stderr, flush=True)
        t = time_torch(case, args.repetitions, args.min_rep_time)
        if t["flops"]:
            problems += check_flops(case.name, ours[case.name], t["flops"])
        rows.append((case.name, ours[case.name], t))
    load_end = os.getloadavg()
    wall = time.perf_counter() - wall0

    ctx = data["context"]
    blas_cfg, blas_threads = openblas_in_this_process()
    env = {k: os.environ.get(k, "(unset)")
           for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY")}
    ratios = [t["time"] / o["time"] for _, o, t in rows]
    best_ratios = [t["best"] / o["best"] for _, o, t in rows]

    print(f"# ours vs PyTorch {torch.__version__}, {started:%Y-%m-%d %H:%M} UTC, "
          f"load average {load_start[0]:.2f} at start, {load_mid[0]:.2f} after ours, "
          f"{load_end[0]:.2f} at end; {wall:.0f} s")
    print(f"# ours:  {ctx['executable']}: omp_max_threads={ctx.get('omp_max_threads')} "
          f"openblas_threads={ctx.get('openblas_threads')} "
          f"OPENBLAS_CORETYPE={ctx.get('OPENBLAS_CORETYPE')} "
          f"OPENBLAS_L2_SIZE={ctx.get('OPENBLAS_L2_SIZE')} "
          f"OMP_WAIT_POLICY={ours_env.get('OMP_WAIT_POLICY', '(unset)')}; "
          f"{ctx.get('openblas_config')}")
    print(f"# torch: get_num_threads={torch.get_num_threads()} "
          f"interop={torch.get_num_interop_threads()} openblas_threads={blas_threads} "
          f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} "
          f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']} "
          f"OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}; {blas_cfg}; "
          f"mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"# medians of {args.repetitions} repetitions; time = forward + backward per "
          f"iteration; ratio = torch / ours (> 1: we are faster)")
    print()
    print("| case | ours (ms) | torch (ms) | torch/ours | best-iter torch/ours "
          "| ours fwd / bwd (ms) | torch fwd / bwd (ms) | torch path |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for (name, o, t), r, br in zip(rows, ratios, best_ratios):
        print(f"| `{name}` | {fmt_ms(o['time'])} | {fmt_ms(t['time'])} | {r:.2f} | {br:.2f} "
              f"| {fmt_ms(o['fwd'])} / {fmt_ms(o['bwd'])} "
              f"| {fmt_ms(t['fwd'])} / {fmt_ms(t['bwd'])} | {t['path']} |")
    print(f"| **geometric mean** ({len(rows)} cases) | | | **{geomean(ratios):.2f}** "
          f"| {geomean(best_ratios):.2f} | | | |")
    by_op = {}
    for (name, _, _), r in zip(rows, ratios):
        by_op.setdefault(name.split("/")[0], []).append(r)
    print()
    print("geometric mean by op: " +
          ", ".join(f"{op} {geomean(rs):.2f}" for op, rs in by_op.items()))

    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"date": started.isoformat(), "load_avg": [load_start, load_mid, load_end],
                       "command": cmd, "ours_context": ctx,
                       "torch": {"version": torch.__version__, "threads": torch.get_num_threads(),
                                 "openblas": blas_cfg, **env},
                       "rows": [{"case": n, "ours": {k: o.get(k) for k in
                                                     ("time", "fwd", "bwd", "best")},
                                 "torch": t} for n, o, t in rows]}, f, indent=1)
    if problems:
        print()
        print("MISMATCHES:")
        for p in problems:
            print("  " + p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
