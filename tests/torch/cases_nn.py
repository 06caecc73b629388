"""Cross-check cases for the network ops: convolutions, group norm, activations, broadcasting
arithmetic, dense layers, softmax and attention, resampling, concat/slice/permute, embeddings and the
MSE loss. Each builder makes seeded float32 inputs, a float64 PyTorch reference and the
tolerances, with the reasoning for them next to the numbers. Inputs and upstream gradients are
standard normal unless a case says otherwise, so "magnitude 1" below means O(1) values."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from common import EPS, EXACT, Case, Rand, Tol, max_abs, tol_elementwise, tol_sum


def _conv_out(size, k, stride, padding):
    return (size + 2 * padding - k) // stride + 1


def conv2d(name, N, C_in, H, W, C_out, k, stride, padding, bias=True):
    r = Rand("conv2d", name)
    inputs = {"x": r.normal(N, C_in, H, W), "w": r.normal(C_out, C_in, k, k)}
    if bias:
        inputs["b"] = r.normal(C_out)
    HW_out = _conv_out(H, k, stride, padding) * _conv_out(W, k, stride, padding)
    # An output sums C_in*k*k products x*w of magnitude 1 (plus the bias); dx sums at most
    # C_out*k*k products w*g; dw and db sum N*H_out*W_out products x*g (or g alone).
    tols = {"out": tol_sum(C_in * k * k + 1), "grad.x": tol_sum(C_out * k * k),
            "grad.w": tol_sum(N * HW_out), "grad.b": tol_sum(N * HW_out)}
    return Case("conv2d", name, inputs,
                lambda t: {"out": F.conv2d(t["x"], t["w"], t.get("b"), stride, padding)},
                tols, {"stride": stride, "padding": padding})


def conv_transpose2d(name, N, C_in, H, W, C_out, k, stride, padding, bias=True):
    r = Rand("conv_transpose2d", name)
    inputs = {"x": r.normal(N, C_in, H, W), "w": r.normal(C_in, C_out, k, k)}
    if bias:
        inputs["b"] = r.normal(C_out)
    H_out, W_out = (H - 1) * stride - 2 * padding + k, (W - 1) * stride - 2 * padding + k
    taps = math.ceil(k / stride) ** 2  # input pixels (per input channel) reaching one output
    # An output sums C_in*taps products x*w (plus the bias); dx sums C_out*k*k products w*g;
    # dw sums N*H*W products x*g; db sums the N*H_out*W_out values of g.
    tols = {"out": tol_sum(C_in * taps + 1), "grad.x": tol_sum(C_out * k * k),
            "grad.w": tol_sum(N * H * W), "grad.b": tol_sum(N * H_out * W_out)}
    return Case("conv_transpose2d", name, inputs,
                lambda t: {"out": F.conv_transpose2d(t["x"], t["w"], t.get("b"), stride, padding)},
                tols, {"stride": stride, "padding": padding})


def group_norm(name, N, C, H, W, groups, x_mean=0.0, x_std=1.0):
    r = Rand("group_norm", name)
    inputs = {"x": r.normal(N, C, H, W, mean=x_mean, std=x_std), "gamma": r.normal(C),
              "beta": r.normal(C)}
    M = C // groups * H * W  # values behind one mean and variance
    g_max = max_abs(inputs["gamma"])
    # The mean and variance are sums of M values; their errors move the normalized value (of
    # magnitude 1, then times gamma) by about EPS * M relative. dx = rstd * gamma * (g - mean(g)
    # - xhat * mean(g * xhat)) has sums of M terms of magnitude 1, scaled by rstd * gamma;
    # dgamma and dbeta sum N*H*W terms g * xhat and g.
    tols = {"out": tol_sum(M, g_max), "grad.x": tol_sum(M, g_max / x_std),
            "grad.gamma": tol_sum(N * H * W), "grad.beta": tol_sum(N * H * W)}
    return Case("group_norm", name, inputs,
                lambda t: {"out": F.group_norm(t["x"], groups, t["gamma"], t["beta"], 1e-5)},
                tols, {"groups": groups})


def silu(name, make_x):
    x = make_x(Rand("silu", name))
    # silu(x) = x * sigmoid(x): a handful of roundings relative to the result (no cancellation).
    # Its derivative sigmoid(x) * (1 + x * (1 - sigmoid(x))) cancels near x = -1.28 between
    # terms no larger than 1.3, so the gradient's atol scales with max|g| * 1.3; exp's own error
    # is one of the roundings.
    return Case("silu", name, {"x": x}, lambda t: {"out": F.silu(t["x"])},
                {"out": tol_elementwise(0.0, 6), "*": tol_elementwise(1.3 * 4, 6)})


def tanh(name, make_x):
    x = make_x(Rand("tanh", name))
    # tanh is a few roundings relative to the result. Its derivative 1 - y^2 is computed from a
    # rounded y (|y| < 1): near saturation that costs about EPS absolute, times |g| <= 4.
    return Case("tanh", name, {"x": x}, lambda t: {"out": torch.tanh(t["x"])},
                {"out": tol_elementwise(0.0, 6), "*": tol_elementwise(4.0, 4)})


def hardtanh(name, make_x, min_val=None, max_val=None):
    x = make_x(Rand("hardtanh", name))
    params = {}
    if min_val is not None:
        params = {"min_val": min_val, "max_val": max_val}
    lo = -1.0 if min_val is None else min_val
    hi = 1.0 if max_val is None else max_val
    # A clamp and a masked copy of g: no arithmetic, so bit-exact (the bounds are exact in
    # float32 and no input sits on them).
    return Case("hardtanh", name, {"x": x}, lambda t: {"out": F.hardtanh(t["x"], lo, hi)},
                {"*": EXACT}, params)


def scale(name, make_x, alpha):
    x = make_x(Rand("scale", name))
    # alpha * x and alpha * g: alpha rounded to float32, then one product: 2 roundings
    # relative (EPS), allowed twice.
    return Case("scale", name, {"x": x}, lambda t: {"out": alpha * t["x"]},
                {"*": Tol(0.0, 2 * EPS)}, {"alpha": alpha})


def _broadcast_factor(shape, out_shape):
    """How many outputs each element of an operand of `shape` feeds (its gradient's sum)."""
    padded = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    return int(np.prod([o if s == 1 else 1 for s, o in zip(padded, out_shape)]))


def binary(op, name, a_shape, b_shape):
    r = Rand(op, name)
    inputs = {"a": r.normal(*a_shape), "b": r.normal(*b_shape)}
    out_shape = np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    fa, fb = _broadcast_factor(a_shape, out_shape), _broadcast_factor(b_shape, out_shape)
    # a + b and a * b are one correctly rounded float32 operation, and their float64 reference
    # is exact: the error is at most EPS/2 of the result, a hard bound with no margin (so a tol
    # use close to 1 is expected), which anything but the plain rounded operation breaks.
    # A broadcast operand's gradient sums g (add) or g * other (mul) over the outputs it feeds.
    tols = {"out": Tol(0.0, EPS / 2), "grad.a": tol_sum(fa), "grad.b": tol_sum(fb)}
    fn = (lambda t: {"out": t["a"] + t["b"]}) if op == "add" else \
        (lambda t: {"out": t["a"] * t["b"]})
    return Case(op, name, inputs, fn, tols)


def linear(name, x_shape, out_features, bias=True):
    r = Rand("linear", name)
    in_features = x_shape[-1]
    inputs = {"x": r.normal(*x_shape), "w": r.normal(out_features, in_features)}
    if bias:
        inputs["b"] = r.normal(out_features)
    rows = int(np.prod(x_shape[:-1]))
    # y sums in_features products (plus the bias); dx sums out_features products w * g; dw and
    # db sum over the rows of x.
    tols = {"out": tol_sum(in_features + 1), "grad.x": tol_sum(out_features),
            "grad.w": tol_sum(rows), "grad.b": tol_sum(rows)}
    return Case("linear", name, inputs, lambda t: {"out": F.linear(t["x"], t["w"], t.get("b"))},
                tols)


def matmul(name, a_shape, b_shape):
    r = Rand("matmul", name)
    inputs = {"a": r.normal(*a_shape), "b": r.normal(*b_shape)}
    M, K, N = a_shape[-2], a_shape[-1], b_shape[-1]
    # c sums K products; da = dc b^T sums N, db = a^T dc sums M.
    tols = {"out": tol_sum(K), "grad.a": tol_sum(N), "grad.b": tol_sum(M)}
    return Case("matmul", name, inputs, lambda t: {"out": torch.matmul(t["a"], t["b"])}, tols)


def softmax(name, make_x):
    x = make_x(Rand("softmax", name))
    L = x.shape[-1]
    spread = float(np.max(x.max(-1) - x.min(-1)))
    # p = exp(x - max) / sum: rounding x - max errs by EPS/2 * spread, which exp turns into a
    # relative error of p, and the row sum of L terms adds up to L roundings relative: p is
    # off by EPS/2 * (spread + L + 2) relative (we allow 4x). dx = p * (g - s) with
    # s = sum_j p_j g_j, a weighted mean of g: its L roundings of partial sums up to max|g|
    # (< 4) err by EPS/2 * L * max|g|, times p <= 1 (2x allowed), plus p's relative error.
    p_rtol = 2 * EPS * (spread + L + 2)
    return Case("softmax", name, {"x": x}, lambda t: {"out": torch.softmax(t["x"], -1)},
                {"out": Tol(0.0, p_rtol), "grad.x": Tol(EPS * (L + 2) * 4, p_rtol)})


def attention(name, shape, scale_param=None):
    r = Rand("attention", name)
    inputs = {n: r.normal(*shape) for n in ("q", "k", "v")}
    L, D = shape[-2], shape[-1]
    s = scale_param if scale_param else 1 / math.sqrt(D)

    def reference(t):
        probs = torch.softmax(torch.matmul(t["q"], t["k"].transpose(-1, -2)) * s, -1)
        return {"out": torch.matmul(probs, t["v"])}

    # A score sums D products q*k of magnitude 1, times the scale: it errs by ~ EPS * D * s
    # absolutely, which becomes a relative error of each probability, as does the softmax's own
    # row sum of L terms. out = sum_j p_j v_j averages magnitude-1 values: error ~ those relative
    # errors plus L roundings. dv sums L terms p * g; dq and dk sum L terms ds * k (ds = p * (dp
    # - sum p dp), dp = g . v a sum of D terms, magnitude sqrt(D)), times s.
    score_terms = D * s + L
    tols = {"out": tol_sum(score_terms), "grad.v": tol_sum(L + score_terms),
            "grad.q": tol_sum(score_terms + D, s * math.sqrt(D)),
            "grad.k": tol_sum(score_terms + D, s * math.sqrt(D))}
    params = {"scale": scale_param} if scale_param else {}
    return Case("attention", name, inputs, reference, tols, params)


def upsample_nearest(name, shape, factor):
    r = Rand("upsample_nearest", name)
    # A copy forward; dx sums the factor^2 values of g that one pixel was copied to.
    return Case("upsample_nearest", name, {"x": r.normal(*shape)},
                lambda t: {"out": F.interpolate(t["x"], scale_factor=factor, mode="nearest")},
                {"out": EXACT, "grad.x": tol_sum(factor * factor)}, {"factor": factor})


def resize_bilinear(name, shape, H_out, W_out):
    r = Rand("resize_bilinear", name)
    x = r.normal(*shape)
    H, W = shape[-2:]
    x_max = max_abs(x)
    # Like PyTorch's float kernel we round the scale in/out to float32; its rounding error
    # d_scale moves each source coordinate (o + 0.5) * scale - 0.5 by up to d_scale * out
    # against the float64 reference, and so each weight, which is then rounded (EPS/2) and
    # complemented (EPS/2). An output is 4 weights times values up to max|x| (weight errors
    # of both axes add up for 2 taps each) plus 4 roundings; dx sums at most
    # (ceil(out/in) + 1)^2 outputs per pixel with those weight errors times |g| (< 4).
    def weight_err(n_in, n_out):
        return abs(float(np.float32(n_in / n_out)) - n_in / n_out) * n_out + EPS

    w_err = weight_err(H, H_out) + weight_err(W, W_out)
    fan = (math.ceil(H_out / H) + 1) * (math.ceil(W_out / W) + 1)
    tols = {"out": Tol(2 * (2 * w_err + 4 * EPS) * x_max, 4 * EPS),
            "grad.x": Tol(2 * fan * (2 * w_err * 4) + tol_sum(fan).atol, 4 * EPS)}
    return Case("resize_bilinear", name, {"x": x},
                lambda t: {"out": F.interpolate(t["x"], size=(H_out, W_out), mode="bilinear",
                                                align_corners=False)},
                tols, {"H_out": H_out, "W_out": W_out})


def concat(name, shapes, dim):
    r = Rand("concat", name)
    inputs = {f"x{i}": r.normal(*s) for i, s in enumerate(shapes)}
    # Pure copies both ways.
    return Case("concat", name, inputs,
                lambda t: {"out": torch.cat([t[f"x{i}"] for i in range(len(shapes))], dim)},
                {"*": EXACT}, {"count": len(shapes), "dim": dim})


def slice_(name, shape, dim, start, end):
    r = Rand("slice", name)
    # Pure copies both ways (dx is g in the window, zero elsewhere).
    return Case("slice", name, {"x": r.normal(*shape)},
                lambda t: {"out": t["x"].narrow(dim, start, end - start)},
                {"*": EXACT}, {"dim": dim, "start": start, "end": end})


def permute(name, shape, order):
    r = Rand("permute", name)
    # Pure copies both ways (dx is g permuted by the inverse order).
    return Case("permute", name, {"x": r.normal(*shape)},
                lambda t: {"out": t["x"].permute(*order).contiguous()},
                {"*": EXACT}, {"order": list(order)})


def timestep_embedding(name, make_t, dim, max_period=None):
    t = make_t(Rand("timestep_embedding", name))
    P = 10000.0 if max_period is None else max_period
    half = dim // 2

    def reference(tt):
        freqs = torch.exp(-math.log(P) * torch.arange(half, dtype=torch.float64) / half)
        args = tt["t"][:, None] * freqs[None]
        emb = torch.cat([torch.sin(args), torch.cos(args)], -1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], -1)
        return {"out": emb}

    t_max = max_abs(t)
    # freq_i = exp(y_i), y_i = -ln(P) * i / half, in float32: y_i is rounded about 3 times
    # (EPS/2 * |y_i| each) and exp once, so freq_i is off by EPS/2 * (3|y_i| + 1) relative, and
    # t * freq_i adds one more rounding: the argument of sin/cos errs by up to
    # EPS/2 * t * rel_i with rel_i = (3|y_i| + 2) freq_i <= 2.15, which sin/cos pass on 1:1
    # (plus their own rounding). That is up to 1e-4 at t = 999: float32 cannot hold the
    # argument more precisely, and PyTorch's float32 embedding does the same.
    # dt = sum_i freq_i (g_i cos - g_{half+i} sin) carries freq_i times that error times
    # |g| <= 4 per term, plus a sum of 2 * half terms of size freq_i * |g|.
    y = -math.log(P) * np.arange(half) / half
    freq = np.exp(y)
    rel = (3 * np.abs(y) + 2) * freq
    arg_err = EPS / 2 * t_max * float(rel.max())
    dt_err = EPS / 2 * t_max * 4 * float((freq * rel).sum())
    tols = {"out": Tol(2 * arg_err + 2 * EPS, 2 * EPS),
            "grad.t": Tol(2 * dt_err + tol_sum(2 * half, float(freq.mean())).atol, 4 * EPS)}
    params = {"dim": dim} if max_period is None else {"dim": dim, "max_period": max_period}
    return Case("timestep_embedding", name, {"t": t}, reference, tols, params)


def embedding(name, V, D, idx_shape):
    r = Rand("embedding", name)
    inputs = {"table": r.normal(V, D), "indices": r.randint(*idx_shape, bound=V)}
    max_count = int(np.bincount(inputs["indices"].ravel(), minlength=V).max())
    # A row copy forward; dtable sums the g rows of every use of an index.
    return Case("embedding", name, inputs,
                lambda t: {"out": F.embedding(t["indices"], t["table"])},
                {"out": EXACT, "grad.table": tol_sum(max_count)})


def mse_loss(name, shape, b_offset=0.0):
    r = Rand("mse_loss", name)
    a, b = r.normal(*shape), r.normal(*shape, mean=b_offset)
    n = a.size
    sq = float(np.mean((a.astype(np.float64) - b) ** 2))
    d_max = max_abs(a - b)
    # The mean of n squared differences: a sum of n terms of size mean((a-b)^2) / n each.
    # da = 2 (a - b) g / n: a few roundings of values up to 2 max|a - b| |g| / n (|g| ~ 1).
    tols = {"out": tol_sum(n, sq / n), "*": tol_elementwise(2 * d_max * 4 / n)}
    return Case("mse_loss", name, {"a": a, "b": b},
                lambda t: {"out": F.mse_loss(t["a"], t["b"])}, tols)


def cases():
    def normal(*shape):  # inputs drawn from each case's own seeded generator
        return lambda r: r.normal(*shape)

    def uniform(*shape, low, high):
        return lambda r: r.uniform(*shape, low=low, high=high)

    return [
        # conv2d: every kernel / stride / padding the VQ-VAE and U-Net use, odd sizes, with
        # and without bias, and one with model-like channel counts (K = 144).
        conv2d("k1 s1 p0 bias", 2, 5, 7, 6, 4, 1, 1, 0),
        conv2d("k1 s1 p0 no bias", 1, 8, 3, 5, 3, 1, 1, 0, bias=False),
        conv2d("k3 s1 p1 bias odd", 2, 3, 9, 7, 6, 3, 1, 1),
        conv2d("k3 s1 p0 no bias", 1, 4, 6, 5, 3, 3, 1, 0, bias=False),
        conv2d("k3 s2 p1 bias odd", 2, 3, 9, 11, 5, 3, 2, 1),
        conv2d("k4 s2 p1 bias", 2, 4, 8, 8, 8, 4, 2, 1),
        conv2d("k4 s2 p1 no bias odd", 1, 3, 9, 7, 4, 4, 2, 1, bias=False),
        conv2d("k3 s1 p1 16->16 ch", 2, 16, 8, 8, 16, 3, 1, 1),
        # Batches of 9 split into the CPU kernel's 4 parts (2, 2, 2, 3 samples), with samples
        # whose im2col exceeds the 4 MiB chunk budget, so that every part runs several chunks
        # and the weight gradient sums parts that each accumulated chunks: channel-row layout
        # (few channels, wide image), pixel-row layout (many channels) and the transposed case.
        conv2d("k3 s1 p1 batch 9, chunk per sample, channel rows", 9, 8, 128, 128, 4, 3, 1, 1),
        conv2d("k3 s1 p1 batch 9, chunk per sample, pixel rows", 9, 256, 16, 16, 8, 3, 1, 1),
        conv2d("k1 s1 p0 batch 9, direct NCHW gemms", 9, 8, 20, 20, 6, 1, 1, 0),
        # Winograd (k3 s1 p1, 16+ channels each side): odd sizes with channel counts that are
        # not a multiple of the 16-lane vectors, and batches split into several tile chunks.
        conv2d("k3 s1 p1 winograd odd 19->17 ch", 3, 19, 7, 5, 17, 3, 1, 1),
        conv2d("k3 s1 p1 winograd batch 9, two chunks", 9, 16, 32, 32, 16, 3, 1, 1),
        conv2d("k3 s1 p1 winograd batch 9, five chunks", 9, 64, 32, 32, 64, 3, 1, 1,
               bias=False),
        conv_transpose2d("k4 s2 p1 batch 9, chunk per sample", 9, 8, 64, 64, 16, 4, 2, 1),
        conv_transpose2d("k4 s2 p1 bias", 2, 4, 5, 6, 3, 4, 2, 1),
        conv_transpose2d("k4 s2 p1 no bias odd", 1, 5, 3, 7, 2, 4, 2, 1, bias=False),
        conv_transpose2d("k4 s2 p1 16->8 ch", 2, 16, 4, 4, 8, 4, 2, 1),
        conv_transpose2d("k3 s1 p1", 2, 2, 5, 3, 3, 3, 1, 1),
        group_norm("32 groups of 2 (C 64)", 2, 64, 3, 5, 32),
        group_norm("8 groups of 4, odd HW", 2, 32, 5, 3, 8),
        group_norm("1 group (layer norm)", 3, 6, 3, 3, 1),
        group_norm("one channel per group, mean 4 std 2", 2, 3, 7, 1, 3, x_mean=4.0, x_std=2.0),
        silu("odd 2x3x5x7", normal(2, 3, 5, 7)),
        silu("large magnitudes", uniform(37, low=-12, high=12)),
        tanh("odd 3x5x7", normal(3, 5, 7)),
        tanh("saturating", uniform(41, low=-6, high=6)),
        hardtanh("mixed in/out of range", uniform(2, 3, 5, 7, low=-3, high=3)),
        hardtanh("custom bounds", uniform(4, 9, low=-1, high=1), -0.25, 0.5),
        scale("odd", normal(3, 7, 5), -1.75),
        scale("1/sqrt(2)", normal(2, 9), 1 / math.sqrt(2)),
        binary("add", "same shape", (2, 3, 5, 7), (2, 3, 5, 7)),
        binary("add", "per-channel [N,C,1,1]", (3, 4, 5, 3), (3, 4, 1, 1)),
        binary("add", "both sides broadcast", (3, 1, 5), (1, 4, 1)),
        binary("add", "lower rank operand", (2, 3, 4), (4,)),
        binary("mul", "same shape", (2, 3, 5, 7), (2, 3, 5, 7)),
        binary("mul", "per-channel [N,C,1,1]", (3, 4, 5, 3), (3, 4, 1, 1)),
        binary("mul", "both sides broadcast", (3, 1, 5), (1, 4, 1)),
        linear("with bias", (5, 7), 3),
        linear("rank-3 input, no bias", (2, 3, 4), 6, bias=False),
        linear("time MLP 32->128", (4, 32), 128),
        matmul("batched odd", (3, 5, 4), (3, 4, 7)),
        matmul("2-d", (6, 3), (3, 2)),
        softmax("rows of 7", normal(5, 7)),
        softmax("large logits", uniform(3, 2, 16, low=-30, high=30)),
        attention("2 heads, L 9, D 4", (2, 2, 9, 4)),
        attention("4 heads, L 16 (4x4 grid), D 8", (1, 4, 16, 8)),
        attention("1 head, L 16, D 8, scale 0.2", (1, 16, 8), 0.2),
        attention("2 heads, L 64 (8x8 grid), D 16", (1, 2, 64, 16)),
        upsample_nearest("x2 odd", (2, 3, 5, 3), 2),
        upsample_nearest("x3", (1, 2, 2, 3), 3),
        resize_bilinear("28 -> 32 (the dataset resize)", (1, 1, 28, 28), 32, 32),
        resize_bilinear("downsample non-square", (2, 3, 9, 7), 4, 5),
        resize_bilinear("upsample odd non-square", (1, 2, 3, 5), 7, 11),
        concat("channels of NCHW", [(2, 3, 4, 5), (2, 1, 4, 5), (2, 2, 4, 5)], 1),
        concat("batch dim", [(1, 3, 5), (2, 3, 5)], 0),
        concat("last dim", [(3, 2), (3, 5)], -1),
        slice_("channels", (2, 7, 3, 5), 1, 2, 5),
        slice_("batch half", (6, 3, 5), 0, 3, 6),
        slice_("last dim, one column", (4, 9), -1, 8, 9),
        permute("rank 2 transpose", (5, 3), (1, 0)),
        permute("[N, C, L] -> tokens [N, L, C], full tiles", (2, 40, 33), (0, 2, 1)),
        permute("tokens [N, L, C] -> [N, C, L]", (3, 16, 20), (0, 2, 1)),
        permute("[N, L, 3, heads, D] -> [3, N, heads, L, D]", (2, 9, 3, 2, 8), (2, 0, 3, 1, 4)),
        permute("rank 4 reversal, odd", (2, 3, 5, 7), (3, 2, 1, 0)),
        permute("rank 6", (2, 3, 1, 4, 2, 3), (4, 0, 5, 2, 3, 1)),
        permute("rank 1 identity", (11,), (0,)),
        timestep_embedding("dim 8, t in [0, 999]", uniform(6, low=0, high=999), 8),
        timestep_embedding("dim 32, integer t",
                           lambda r: np.array([0, 1, 17, 500, 999], np.float32), 32),
        timestep_embedding("odd dim 7, max_period 100", uniform(3, low=0, high=50), 7, 100.0),
        embedding("labels with null, repeated", 3, 16, (9,)),
        embedding("2-d indices", 5, 4, (2, 3)),
        mse_loss("odd 3x5x7", (3, 5, 7)),
        mse_loss("one element", (1,)),
        mse_loss("offset targets 2x3x8x8", (2, 3, 8, 8), b_offset=0.5),
    ]
