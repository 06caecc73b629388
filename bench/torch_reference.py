#!/usr/bin/python3
"""The model-level PyTorch reference: our VQ-VAE and U-Net against the same models in PyTorch.

--check (a ctest entry): for each case, a fixed batch (seeded torch.Generator) goes to
`ldm-model-ref check`, which builds the model from the run config as ldm-train does, gives the
parameters that its initializer sets to a constant random values (GroupNorm affine, the U-Net's
zero conv_out: otherwise most gradients would be trivially zero), runs forward + backward of the
training loss and writes its weights, outputs and every parameter gradient. This script builds
the same architecture in PyTorch from the same JSON config (its own parser of the architecture
sections, with our defaults, checked against the config ldm-model-ref reports), loads those
weights, and recomputes everything in float64 from the same float32 values:
  VQ-VAE: z_e, indices, x_hat, vq loss, loss = mse(x_hat, x) + vq loss (straight-through),
          and the gradient of every parameter;
  U-Net:  predicted noise for x_t, t, labels (the null label included), loss = mse(eps_pred,
          eps), and the gradient of every parameter.
Every parameter must get a nonzero reference gradient, and ours must match it. Tolerances: see
`Budget` below. The cases: the defaults of an empty config on both sides; both models at the
given config (the default architecture) and at a reduced config with a learned codebook, three
U-Net levels, attention at two of them and more classes; batch 4; about ten seconds in all.

--time (a benchmark, not a test): one training step (zero_grad + forward + loss + backward +
AdamW step) of each model at batch 64 on 2 threads, ours (`ldm-model-ref time`) and PyTorch
(float32, our initial weights, the optimizer settings of the config) in one run: --rounds rounds
of ours then PyTorch, each --steps steps after --warmup untimed ones; medians over all rounds,
each round's ratio, and the fastest step; a table with ours / PyTorch, and --json-out FILE.
Ours runs first, before this process has done any PyTorch work, and later rounds wait a second
before ours, so that no idle PyTorch or OpenBLAS worker spins on the cores ours needs (the
pitfall described in bench/torch_op_bench.py).

Usage: /usr/bin/python3 bench/torch_reference.py --check --model-ref BUILD/bench/ldm-model-ref
           [--config configs/pneumonia28.json] [--set section.key=value ...] [--model M]
           [--batch N] [--keep DIR] [-v]
       /usr/bin/python3 bench/torch_reference.py --time --model-ref BUILD/bench/ldm-model-ref
           [--config ...] [--batch 64] [--steps 10] [--warmup 2] [--rounds 3]
           [--json-out FILE]
           [--torch-omp-wait-policy passive|active]
(Debian's python3 has torch 1.13; a pyenv python3 on PATH may not.) The OPENBLAS_* variables
are reported as each process sees them and never changed."""

import argparse
import copy
import datetime
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "torch"))

import numpy as np  # noqa: E402

import st_io  # noqa: E402

# Imported by main() once the OpenMP environment of this process is settled: libgomp reads
# OMP_WAIT_POLICY when torch loads it.
torch = nn = F = None

EPS = 2.0 ** -23  # float32 machine epsilon
THREADS = 2

# ---------------------------------------------------------------------------------------------
# The run config, as far as the models need it: the architecture sections "vqvae" and "unet"
# in full, and the two keys the inputs depend on, with the defaults of tools/run_config.h,
# models/vqvae.h, models/unet.h and models/diffusion.h, in the shape of tools/run_config.cpp's
# to_json(). ldm-model-ref prints that to_json(); check_config() compares the two, so a default
# changed on one side only fails --check. The architecture sections are strict: a key this
# script does not know is an architecture it does not build. The training and sampling sections
# do not change the models; ldm-model-ref parses them (strictly), and --time takes the optimizer
# settings from what it reports.

ARCH_DEFAULTS = {
    "vqvae": {"base_channels": 32, "channel_multipliers": [1, 2, 4], "num_res_blocks": 1,
              "latent_channels": 3, "codebook_size": 4096, "codebook": "frozen", "beta": 0.25,
              "groups": 8},
    "unet": {"base_channels": 64, "channel_multipliers": [1, 2], "num_res_blocks": 2,
             "attention_levels": [1], "num_heads": 4, "num_classes": 2, "groups": 32},
}
INPUT_DEFAULTS = {("data", "image_size"): 32, ("diffusion", "timesteps"): 1000}
IMAGE_CHANNELS = 1  # VqVaeConfig::in_channels: not a config key
GROUP_NORM_EPS = 1e-5  # models::GroupNorm's default, which every block uses
MAX_PERIOD = 10000.0  # ops::timestep_embedding's default


def merge(defaults, given, section):
    """defaults with the keys of `given` replaced; unknown keys are errors."""
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise SystemExit(f"torch_reference: unknown config key '{section}.{key}': the "
                             f"PyTorch models here do not implement it")
        out[key] = value
    return out


def apply_override(config, assignment):
    """section.key=value as tools/run_config.cpp reads it: JSON if it parses, else a string."""
    path, sep, text = assignment.partition("=")
    if not sep or not path:
        raise SystemExit(f"torch_reference: override '{assignment}' is not section.key=value")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    node = config
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def load_config(path, overrides=()):
    with open(path) as f:
        raw = json.load(f)
    for o in overrides:
        apply_override(raw, o)
    cfg = {name: merge(d, raw.get(name, {}), name) for name, d in ARCH_DEFAULTS.items()}
    for (section, key), default in INPUT_DEFAULTS.items():
        cfg.setdefault(section, {})[key] = raw.get(section, {}).get(key, default)
    return cfg


def latent_size(cfg):
    return cfg["data"]["image_size"] >> (len(cfg["vqvae"]["channel_multipliers"]) - 1)


def json_equal(a, b):
    """Equality of parsed JSON where 1 and 1.0 are the same number (to_json writes doubles)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


# ---------------------------------------------------------------------------------------------
# The models, module for module as in models/module.cpp, models/vqvae.cpp and models/unet.cpp,
# so that state_dict names are ours and load_state_dict(strict=True) proves every name matches.
# Built inside functions because torch is imported late (see above).

def define_models():
    global ResBlock, VqVae, UNet

    def group_norm(groups, channels):
        return nn.GroupNorm(groups, channels, eps=GROUP_NORM_EPS)

    def level():
        return nn.Module()  # a plain container: down.{i}.block.{j}, down.{i}.downsample, ...

    class ResBlock(nn.Module):
        def __init__(self, c_in, c_out, groups):
            super().__init__()
            self.norm1 = group_norm(groups, c_in)
            self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
            self.norm2 = group_norm(groups, c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
            self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, x):
            h = self.conv1(F.silu(self.norm1(x)))
            h = self.conv2(F.silu(self.norm2(h)))
            return (self.skip(x) if self.skip is not None else x) + h

    class Encoder(nn.Module):
        def __init__(self, c):
            super().__init__()
            mults, base, groups = c["channel_multipliers"], c["base_channels"], c["groups"]
            ch = base * mults[0]
            self.conv_in = nn.Conv2d(IMAGE_CHANNELS, ch, 3, 1, 1)
            self.down = nn.ModuleList()
            for i, m in enumerate(mults):
                lv = level()
                lv.block = nn.ModuleList()
                for _ in range(c["num_res_blocks"]):
                    lv.block.append(ResBlock(ch, base * m, groups))
                    ch = base * m
                lv.downsample = nn.Conv2d(ch, ch, 4, 2, 1) if i + 1 < len(mults) else None
                self.down.append(lv)
            self.norm_out = group_norm(groups, ch)
            self.conv_out = nn.Conv2d(ch, c["latent_channels"], 1)

        def forward(self, x):
            h = self.conv_in(x)
            for lv in self.down:
                for block in lv.block:
                    h = block(h)
                if lv.downsample is not None:
                    h = lv.downsample(h)
            return self.conv_out(F.silu(self.norm_out(h)))

    class Decoder(nn.Module):
        def __init__(self, c):
            super().__init__()
            mults, base, groups = c["channel_multipliers"], c["base_channels"], c["groups"]
            ch = base * mults[-1]
            self.conv_in = nn.Conv2d(c["latent_channels"], ch, 3, 1, 1)
            levels = [None] * len(mults)
            for i in reversed(range(len(mults))):  # channels flow from the deepest level
                lv = level()
                lv.block = nn.ModuleList()
                for _ in range(c["num_res_blocks"]):
                    lv.block.append(ResBlock(ch, base * mults[i], groups))
                    ch = base * mults[i]
                lv.upsample = nn.ConvTranspose2d(ch, ch, 4, 2, 1) if i > 0 else None
                levels[i] = lv
            self.up = nn.ModuleList(levels)  # up.{i} is level i; forward runs deepest first
            self.norm_out = group_norm(groups, ch)
            self.conv_out = nn.Conv2d(ch, IMAGE_CHANNELS, 3, 1, 1)

        def forward(self, z):
            h = self.conv_in(z)
            for lv in reversed(self.up):
                for block in lv.block:
                    h = block(h)
                if lv.upsample is not None:
                    h = lv.upsample(h)
            return torch.tanh(self.conv_out(F.silu(self.norm_out(h))))

    class VqVae(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.beta = c["beta"]
            self.encoder = Encoder(c)
            self.decoder = Decoder(c)
            codes = torch.zeros(c["codebook_size"], c["latent_channels"])
            if c["codebook"] == "learned":
                self.codebook = nn.Parameter(codes)
            else:
                self.register_buffer("codebook", codes)  # frozen: saved, never trained

        def nearest(self, z_e):
            """argmin_k ||z - c_k||^2 per pixel, ties to the lowest k (torch.argmin returns the
            first minimum), and the distances: [N, h, w], [N*h*w, K]."""
            N, D, h, w = z_e.shape
            z = z_e.detach().permute(0, 2, 3, 1).reshape(-1, D)
            c = self.codebook.detach()
            dist = (z * z).sum(1, keepdim=True) - 2 * z @ c.t() + (c * c).sum(1)
            return dist.argmin(1).view(N, h, w), dist

        def quantize(self, z_e, indices):
            """z_q with the straight-through gradient and codebook + beta * commitment loss
            (core/ops/quantize.h), for given indices."""
            z_q = self.codebook[indices].permute(0, 3, 1, 2)  # [N, D, h, w]
            loss = F.mse_loss(z_q, z_e.detach()) + self.beta * F.mse_loss(z_q.detach(), z_e)
            return z_e + (z_q - z_e).detach(), loss

    def timestep_embedding(t, dim):
        """sin(t f_i) then cos(t f_i), f_i = max_period^(-i/half), as kernels/cpu/embedding.cpp
        computes them in float32: the exponent -ln(max_period) * i / half in float32 steps, f_i
        rounded to float32 and t * f_i rounded to float32. Only then do sin and cos run in the
        model's precision. A float64 argument would not be a better reference of a float32
        model: at t = 999 rounding t f_i to float32 alone moves sin by up to 6e-5, which every
        float32 implementation does (PyTorch's own included). Measured, a float64 argument makes
        the time MLP's gradients err 5x more than anything else in the U-Net (1.7e-5 relative),
        which would hide any smaller discrepancy elsewhere."""
        half = dim // 2
        exponent = (np.float32(-math.log(MAX_PERIOD)) * np.arange(half, dtype=np.float32)
                    / np.float32(half))
        freq = np.exp(exponent.astype(np.float64)).astype(np.float32)
        arg = (t.float()[:, None] * torch.from_numpy(freq)[None, :]).to(t.dtype)
        emb = torch.cat([torch.sin(arg), torch.cos(arg)], 1)
        if dim % 2:
            emb = F.pad(emb, (0, 1))
        return emb

    class TimeResBlock(nn.Module):
        def __init__(self, c_in, c_out, embed_dim, groups):
            super().__init__()
            self.norm1 = group_norm(groups, c_in)
            self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
            self.emb_proj = nn.Linear(embed_dim, c_out)
            self.norm2 = group_norm(groups, c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
            self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, x, emb_act):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.emb_proj(emb_act)[:, :, None, None]
            h = self.conv2(F.silu(self.norm2(h)))
            return (self.skip(x) if self.skip is not None else x) + h

    class AttentionBlock(nn.Module):
        def __init__(self, channels, heads, groups):
            super().__init__()
            self.heads = heads
            self.norm = group_norm(groups, channels)
            self.qkv = nn.Conv2d(channels, 3 * channels, 1)
            self.proj_out = nn.Conv2d(channels, channels, 1)

        def forward(self, x):
            N, C, H, W = x.shape
            L, D = H * W, C // self.heads
            # qkv channels are [3, heads, D]: q of head h is channels h*D .. h*D+D-1.
            qkv = self.qkv(self.norm(x)).reshape(N, 3, self.heads, D, L).transpose(-1, -2)
            q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # [N, heads, L, D]
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), -1)
            out = (probs @ v).transpose(-1, -2).reshape(N, C, H, W)
            return x + self.proj_out(out)

    class Upsample(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

        def forward(self, x):
            return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))

    class UNet(nn.Module):
        def __init__(self, c, in_channels):
            super().__init__()
            mults, base, groups = c["channel_multipliers"], c["base_channels"], c["groups"]
            heads, E = c["num_heads"], 4 * base
            self.base = base
            self.time_embed = nn.Module()
            self.time_embed.linear1 = nn.Linear(base, E)
            self.time_embed.linear2 = nn.Linear(E, E)
            self.label_embed = nn.Embedding(c["num_classes"] + 1, E)  # + the null label
            ch = base * mults[0]
            self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)
            skips = [ch]
            self.down = nn.ModuleList()
            for i, m in enumerate(mults):
                lv = level()
                lv.block, lv.attn = nn.ModuleList(), nn.ModuleList()
                for _ in range(c["num_res_blocks"]):
                    lv.block.append(TimeResBlock(ch, base * m, E, groups))
                    ch = base * m
                    if i in c["attention_levels"]:
                        lv.attn.append(AttentionBlock(ch, heads, groups))
                    skips.append(ch)
                lv.downsample = None
                if i + 1 < len(mults):
                    lv.downsample = nn.Conv2d(ch, ch, 3, 2, 1)
                    skips.append(ch)
                self.down.append(lv)
            self.mid = nn.Module()
            self.mid.block1 = TimeResBlock(ch, ch, E, groups)
            self.mid.attn = AttentionBlock(ch, heads, groups)
            self.mid.block2 = TimeResBlock(ch, ch, E, groups)
            levels = [None] * len(mults)
            for i in reversed(range(len(mults))):
                lv = level()
                lv.block, lv.attn = nn.ModuleList(), nn.ModuleList()
                for _ in range(c["num_res_blocks"] + 1):
                    lv.block.append(TimeResBlock(ch + skips.pop(), base * mults[i], E, groups))
                    ch = base * mults[i]
                    if i in c["attention_levels"]:
                        lv.attn.append(AttentionBlock(ch, heads, groups))
                lv.upsample = Upsample(ch) if i > 0 else None
                levels[i] = lv
            assert not skips
            self.up = nn.ModuleList(levels)  # up.{i} is level i; forward runs deepest first
            self.norm_out = group_norm(groups, ch)
            self.conv_out = nn.Conv2d(ch, in_channels, 3, 1, 1)

        def forward(self, x, t, labels):
            emb = self.time_embed.linear2(F.silu(self.time_embed.linear1(
                timestep_embedding(t, self.base))))
            emb_act = F.silu(emb + self.label_embed(labels))
            h = self.conv_in(x)
            skips = [h]
            for lv in self.down:
                for j, block in enumerate(lv.block):
                    h = block(h, emb_act)
                    if len(lv.attn):
                        h = lv.attn[j](h)
                    skips.append(h)
                if lv.downsample is not None:
                    h = lv.downsample(h)
                    skips.append(h)
            h = self.mid.block2(self.mid.attn(self.mid.block1(h, emb_act)), emb_act)
            for lv in reversed(self.up):
                for j, block in enumerate(lv.block):
                    h = block(torch.cat([h, skips.pop()], 1), emb_act)
                    if len(lv.attn):
                        h = lv.attn[j](h)
                if lv.upsample is not None:
                    h = lv.upsample(h)
            return self.conv_out(F.silu(self.norm_out(h)))


def build(model, cfg):
    if model == "vqvae":
        return VqVae(cfg["vqvae"])
    return UNet(cfg["unet"], in_channels=cfg["vqvae"]["latent_channels"])


def load_weights(module, tensors, dtype):
    """Our tensors into the torch module; strict, so a name missing on either side fails."""
    state = {name: torch.from_numpy(a).to(dtype) for name, a in tensors.items()}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise SystemExit(f"torch_reference: our weights do not fit the PyTorch model: {e}")
    return module.to(dtype)


# ---------------------------------------------------------------------------------------------
# Tolerances.
#
# A float32 dot product of n random-sign terms, summed one after another (as a GEMM
# micro-kernel accumulates each output), has partial sums of size a * sqrt(k) after k terms;
# each rounding errs by EPS / (2 sqrt 3) of that in rms, so the sum errs by EPS / (2 sqrt 6) *
# sqrt(n) relative to its size in rms. Through a network whose layers roughly preserve scale
# (GroupNorm renormalizes every block), the layers' errors add up in quadrature: an output
# errs, relative to its scale, by about e = EPS / (2 sqrt 6) * sqrt(S) in rms, with S the sum
# of the reduction lengths of the layers it depends on (conv and linear fan-ins; attention's
# q.k length D and its sum over the L positions). A weight gradient also depends on the
# backward pass (fan-outs, about as long again) and is itself a sum over the N*H*W positions of
# its layer: S_grad = 2 S + max N*H*W. Our kernels accumulate GroupNorm statistics and the
# losses in double, so those add nothing worth counting; the VQ distances only pick indices,
# which are compared exactly (see reference_vqvae).
#
# The check is |ours - ref| <= MARGIN * e * (max|ref| + |ref|) elementwise: a tensor's scale is
# its largest value (its small entries carry the absolute error of the sums that made them),
# plus a relative term for its large entries. MARGIN = 16: the largest of 1e5 roughly Gaussian
# errors is 4.5 rms, and a factor 3.5 over that covers what the estimate leaves out (GroupNorm
# of low-variance groups amplifying errors, cancellation in residual adds). Measured: the worst
# element of any tensor uses at most 7% of its tolerance, so a real discrepancy, which errs by
# far more than a few float32 roundings, cannot hide under it; every case prints its largest
# tolerance use.
MARGIN = 16.0
MAX_PROBLEMS = 12  # per case without -v: one wrong layer makes every gradient before it differ


class Budget:
    """Collects the reduction lengths of one forward pass through module hooks."""

    def __init__(self, model):
        self.fwd = 0
        self.positions = 0
        self.handles = []
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                self.handles.append(m.register_forward_hook(self.layer))
            elif type(m).__name__ == "AttentionBlock":
                self.handles.append(m.register_forward_hook(self.attention))

    def layer(self, m, inputs, out):
        if isinstance(m, nn.Linear):
            n = m.in_features
        elif isinstance(m, nn.ConvTranspose2d):  # each output sees (k/s)^2 taps per channel
            n = m.in_channels * (m.kernel_size[0] // m.stride[0]) ** 2
        else:
            n = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        self.fwd += n
        self.positions = max(self.positions, out.numel() // out.shape[1])

    def attention(self, m, inputs, out):
        N, C, H, W = inputs[0].shape
        self.fwd += C // m.heads + H * W

    def done(self):
        for h in self.handles:
            h.remove()

    def forward_error(self):
        return EPS / (2 * math.sqrt(6)) * math.sqrt(self.fwd)

    def grad_error(self):
        return EPS / (2 * math.sqrt(6)) * math.sqrt(2 * self.fwd + self.positions)


def compare(name, ours, ref, e):
    """(ok, row, message): row = (name, max |diff|, max |diff| / max |ref|, tolerance use)."""
    if ours.shape != ref.shape:
        return False, (name, math.inf, math.inf, math.inf), \
            f"{name}: shape {ours.shape}, expected {ref.shape}"
    if not np.all(np.isfinite(ours)):
        return False, (name, math.inf, math.inf, math.inf), f"{name}: non-finite values"
    diff = np.abs(ours.astype(np.float64) - ref)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    bound = MARGIN * e * (scale + np.abs(ref))
    with np.errstate(divide="ignore", invalid="ignore"):
        use = np.where(diff == 0, 0.0, diff / bound)
    worst = float(np.max(use)) if use.size else 0.0
    row = (name, float(diff.max(initial=0.0)), float(diff.max(initial=0.0)) / scale
           if scale else 0.0, worst)
    if worst > 1:
        i = np.unravel_index(int(np.argmax(use)), ref.shape) if ref.shape else ()
        return False, row, (f"{name}: {int((use > 1).sum())} of {ref.size} outside "
                            f"{MARGIN:g} * {e:.3g} * (max|ref| {scale:.3g} + |ref|); worst at "
                            f"{list(i)}: ours {float(ours[i]):.9g}, ref {float(ref[i]):.9g}")
    return True, row, ""


# ---------------------------------------------------------------------------------------------
# --check

def reduced_config():
    """A small architecture that differs from the default wherever the code branches: a learned
    codebook, two res blocks per VQ level, four latent channels, three U-Net levels with
    attention at the first and last, one res block, two heads, three classes. The sections left
    out take their defaults."""
    return {
        "data": {"image_size": 16},
        "vqvae": {"base_channels": 16, "channel_multipliers": [1, 2], "num_res_blocks": 2,
                  "latent_channels": 4, "codebook": "learned", "codebook_size": 256,
                  "beta": 0.5, "groups": 4},
        "unet": {"base_channels": 16, "channel_multipliers": [1, 2, 3], "num_res_blocks": 1,
                 "attention_levels": [0, 2], "num_heads": 2, "num_classes": 3, "groups": 8},
    }


def make_inputs(model, cfg, batch, seed):
    gen = torch.Generator().manual_seed(seed)
    if model == "vqvae":
        S = cfg["data"]["image_size"]
        return {"x": (torch.rand((batch, IMAGE_CHANNELS, S, S), generator=gen) * 2 - 1).numpy()}
    s, C = latent_size(cfg), cfg["vqvae"]["latent_channels"]
    T, null = cfg["diffusion"]["timesteps"], cfg["unet"]["num_classes"]
    # Timesteps from both ends of the schedule (t = T - 1 is where float32 rounding of the
    # embedding argument is largest) and random ones; every label, the null label included.
    t = torch.randint(0, T, (batch,), generator=gen)
    t[0], t[-1] = 0, T - 1
    labels = torch.arange(batch) % (null + 1)
    return {"x_t": torch.randn((batch, C, s, s), generator=gen).numpy(),
            "t": t.to(torch.float32).numpy(),
            "labels": labels.to(torch.int32).numpy(),
            "eps": torch.randn((batch, C, s, s), generator=gen).numpy()}


def check_config(reported, cfg):
    """Our parser's view of the config against ldm-model-ref's (to_json, defaults filled in)."""
    problems = []
    for section, values in cfg.items():
        theirs = reported.get(section, {})
        keys = values.keys() if section not in ARCH_DEFAULTS else values.keys() | theirs.keys()
        for key in sorted(keys):
            if not json_equal(theirs.get(key), values.get(key)):
                problems.append(f"config '{section}.{key}': ldm-model-ref has "
                                f"{theirs.get(key)}, this script {values.get(key)} (a default "
                                f"differs, or a key this script does not know)")
    return problems


def reference_vqvae(model, inputs, ours, problems):
    """The float64 forward + backward; returns {name: array} in our output names."""
    x = torch.from_numpy(inputs["x"]).double()
    z_e = model.encoder(x)
    indices, dist = model.nearest(z_e)
    # Indices must be ours exactly, except at near-ties: codes whose distances differ by less
    # than what our float32 z_e (within its tolerance of the reference) and float32 distance
    # arithmetic can resolve. There the reference takes our code, so the decoder and gradients
    # are still compared on the same input.
    ours_idx = torch.from_numpy(ours["out.indices"].astype(np.int64))
    if ours_idx.shape != indices.shape:
        problems.append(f"out.indices: shape {tuple(ours_idx.shape)}, expected "
                        f"{tuple(indices.shape)}")
        return {}, 0
    wrong = torch.nonzero((ours_idx != indices).flatten()).flatten().tolist()
    ties = 0
    D = z_e.shape[1]
    z_ref = z_e.detach().permute(0, 2, 3, 1).reshape(-1, D)
    z_ours = torch.from_numpy(ours["out.z_e"]).double().permute(0, 2, 3, 1).reshape(-1, D)
    c = model.codebook.detach()
    for p in wrong:
        ko, kr = int(ours_idx.flatten()[p]), int(indices.flatten()[p])
        gap = abs(float(dist[p, ko] - dist[p, kr]))  # >= 0 anyway: kr is the argmin
        dz = float((z_ours[p] - z_ref[p]).norm())
        size = float(c[ko].norm() ** 2 + 2 * z_ref[p].norm() * c[ko].norm())
        allowed = 2 * dz * float((c[ko] - c[kr]).norm()) + 8 * EPS * size
        if gap <= allowed:
            ties += 1
        else:
            problems.append(f"out.indices: pixel {p}: ours code {ko}, reference {kr}, distance "
                            f"gap {gap:.3g} > {allowed:.3g} (not a near-tie)")
    z_q, vq_loss = model.quantize(z_e, ours_idx if ties else indices)
    x_hat = model.decoder(z_q)
    loss = F.mse_loss(x_hat, x) + vq_loss
    loss.backward()
    ref = {"out.z_e": z_e, "out.x_hat": x_hat, "out.vq_loss": vq_loss, "out.loss": loss}
    ref = {k: v.detach().numpy() for k, v in ref.items()}
    ref["out.indices"] = indices.numpy()
    return ref, ties


def reference_unet(model, inputs):
    eps_pred = model(torch.from_numpy(inputs["x_t"]).double(),
                     torch.from_numpy(inputs["t"]).double(),
                     torch.from_numpy(inputs["labels"].astype(np.int64)))
    loss = F.mse_loss(eps_pred, torch.from_numpy(inputs["eps"]).double())
    loss.backward()
    return {"out.eps_pred": eps_pred.detach().numpy(), "out.loss": loss.detach().numpy()}, 0


def run_case(title, model_name, config_path, overrides, batch, args, workdir, index):
    """Returns (ok, lines to print)."""
    cfg = load_config(config_path, overrides)
    stem = os.path.join(workdir, f"case{index}")
    inputs = make_inputs(model_name, cfg, batch, seed=20240601 + index)
    st_io.save(stem + ".in.safetensors", inputs)
    cmd = [args.model_ref, "check", "--model", model_name, "--config", config_path,
           "--inputs", stem + ".in.safetensors", "--out", stem + ".out.safetensors",
           "--randomize-constant-params", "--threads", str(THREADS)]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return False, [f"FAIL  {title}: ldm-model-ref exit {proc.returncode}: "
                       f"{proc.stderr.strip()}"]
    report = json.loads(proc.stdout)
    problems = check_config(report["config"], cfg)
    ours = st_io.load(stem + ".out.safetensors")

    model = build(model_name, cfg)
    weights = {k[len("param."):]: v for k, v in ours.items() if k.startswith("param.")}
    load_weights(model, weights, torch.float64)
    budget = Budget(model)
    if model_name == "vqvae":
        ref, ties = reference_vqvae(model, inputs, ours, problems)
    else:
        ref, ties = reference_unet(model, inputs)
    budget.done()
    if not ref:
        return False, [f"FAIL  {title}"] + [f"      {p}" for p in problems]

    rows = []
    e_fwd, e_grad = budget.forward_error(), budget.grad_error()
    for name in sorted(ref):
        if name == "out.indices":
            continue  # compared above
        if name not in ours:
            problems.append(f"{name}: missing from ldm-model-ref's output")
            continue
        # Losses are reductions of outputs, and z_e only the encoder's half: the forward budget
        # of the whole model covers all of them.
        ok, row, msg = compare(name, ours[name], ref[name], e_fwd)
        rows.append(row)
        if not ok:
            problems.append(msg)
    n_params = 0
    for name, p in model.named_parameters():
        n_params += 1
        g = p.grad.numpy() if p.grad is not None else np.zeros(p.shape)
        if not np.any(g):  # a zero reference gradient would make its comparison vacuous
            problems.append(f"grad.{name}: the reference gradient is zero (a trivial check)")
        if "grad." + name not in ours:
            problems.append(f"grad.{name}: ldm-model-ref wrote no gradient")
            continue
        ok, row, msg = compare("grad." + name, ours["grad." + name], g, e_grad)
        rows.append(row)
        if not ok:
            problems.append(msg)
    extra = {k[len("grad."):] for k in ours if k.startswith("grad.")} - \
        {n for n, _ in model.named_parameters()}
    problems += [f"grad.{n}: ours has a gradient for a tensor PyTorch does not train"
                 for n in sorted(extra)]

    outs = [r for r in rows if not r[0].startswith("grad.")]
    grads = [r for r in rows if r[0].startswith("grad.")]
    worst_out = max(outs, key=lambda r: r[3])
    worst_grad = max(grads, key=lambda r: r[3])
    ok = not problems
    lines = [f"{'PASS' if ok else 'FAIL'}  {title:<34} outputs: max rel "
             f"{max(r[2] for r in outs):.2e} (tol use {worst_out[3]:.3f}, {worst_out[0]})  "
             f"{n_params} grads: max rel {max(r[2] for r in grads):.2e} (tol use {worst_grad[3]:.3f}, {worst_grad[0]})"
             + (f"  [{ties} VQ near-ties]" if ties else "")]
    if args.verbose:
        lines.append(f"        e_fwd {e_fwd:.3g} (S = {budget.fwd}), e_grad {e_grad:.3g} "
                     f"(+ {budget.positions} positions); ours took {report['seconds']:.2f} s")
        for name, max_abs, max_rel, use in rows:
            lines.append(f"        {name:<44} abs {max_abs:8.2e}  rel {max_rel:8.2e}  "
                         f"tol use {use:6.3f}")
    shown = problems if args.verbose else problems[:MAX_PROBLEMS]
    lines += [f"      {p}" for p in shown]
    if len(shown) < len(problems):
        lines.append(f"      ... and {len(problems) - len(shown)} more (-v shows all)")
    return ok, lines


def check_defaults(args, workdir):
    """An empty config file: every architecture key takes its default on both sides."""
    empty = os.path.join(workdir, "empty.json")
    with open(empty, "w") as f:
        f.write("{}")
    proc = subprocess.run([args.model_ref, "config", "--config", empty], capture_output=True,
                          text=True, timeout=60)
    if proc.returncode != 0:
        return False, [f"FAIL  config defaults: ldm-model-ref exit {proc.returncode}: "
                       f"{proc.stderr.strip()}"]
    problems = check_config(json.loads(proc.stdout), load_config(empty))
    return not problems, [f"{'FAIL' if problems else 'PASS'}  config defaults (an empty file)"] + \
        [f"      {p}" for p in problems]


def check(args):
    torch.set_num_threads(THREADS)
    start = time.time()
    workdir = args.keep or tempfile.mkdtemp(prefix="ldm-torchref-")
    os.makedirs(workdir, exist_ok=True)
    reduced = os.path.join(workdir, "reduced.json")
    with open(reduced, "w") as f:
        json.dump(reduced_config(), f)
    models = ["vqvae", "unet"] if args.model == "all" else [args.model]
    cases = []
    for m in models:
        cases.append((f"{m} / {os.path.basename(args.config)}", m, args.config, args.set))
        if not args.set:  # ad-hoc overrides are for the given config only
            cases.append((f"{m} / reduced", m, reduced, []))
    passed = failed = 0
    try:
        ok, lines = check_defaults(args, workdir)
        print("\n".join(lines), flush=True)
        passed, failed = passed + ok, failed + (not ok)
        for i, (title, m, path, overrides) in enumerate(cases):
            ok, lines = run_case(title, m, path, overrides, args.batch, args, workdir, i)
            print("\n".join(lines), flush=True)
            passed, failed = passed + ok, failed + (not ok)
    finally:
        if not args.keep:
            for name in os.listdir(workdir):
                os.remove(os.path.join(workdir, name))
            os.rmdir(workdir)
    print(f"({time.time() - start:.1f} s)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


# ---------------------------------------------------------------------------------------------
# --time

def run_ours_time(args, model, weights_path):
    cmd = [args.model_ref, "time", "--model", model, "--config", args.config,
           "--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--threads", str(THREADS), "--weights-out", weights_path]
    for o in args.set:
        cmd += ["--set", o]
    print("running: " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=args.ours_env)
    if proc.returncode != 0:
        raise SystemExit(f"torch_reference: ldm-model-ref failed (exit {proc.returncode}): "
                         f"{proc.stderr.strip()}")
    return json.loads(proc.stdout), cmd


def time_torch(args, model_name, cfg, reported, weights_path):
    """Per-step times of PyTorch training steps: our initial weights, a random batch drawn as
    ours draws it, torch.optim.AdamW with the settings ldm-model-ref reports (its default
    implementation, the single-tensor loop in torch 1.13, like ours one kernel per parameter)."""
    model = load_weights(build(model_name, cfg), st_io.load(weights_path), torch.float32)
    gen = torch.Generator().manual_seed(1)
    B = args.batch
    if model_name == "vqvae":
        S = cfg["data"]["image_size"]
        x = torch.rand((B, IMAGE_CHANNELS, S, S), generator=gen) * 2 - 1
        opt_cfg = reported["vqvae_training"]["optimizer"]

        def loss_of():
            z_e = model.encoder(x)
            indices, _ = model.nearest(z_e)
            z_q, vq_loss = model.quantize(z_e, indices)
            return F.mse_loss(model.decoder(z_q), x) + vq_loss
    else:
        s, C = latent_size(cfg), cfg["vqvae"]["latent_channels"]
        x_t = torch.randn((B, C, s, s), generator=gen)
        eps = torch.randn((B, C, s, s), generator=gen)
        t = torch.randint(0, cfg["diffusion"]["timesteps"], (B,), generator=gen).float()
        labels = torch.randint(0, cfg["unet"]["num_classes"] + 1, (B,), generator=gen)
        opt_cfg = reported["ldm_training"]["optimizer"]

        def loss_of():
            return F.mse_loss(model(x_t, t, labels), eps)

    opt = torch.optim.AdamW(model.parameters(), lr=opt_cfg["lr"],
                            betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"],
                            weight_decay=opt_cfg["weight_decay"])
    steps = []
    gc.collect()
    gc.disable()  # a collection inside a timed step would be charged to that step
    try:
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)  # like our zero_grad, which drops the gradients
            loss = loss_of()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            if i >= args.warmup:
                steps.append({"total": t3 - t0, "fwd": t1 - t0, "bwd": t2 - t1, "opt": t3 - t2,
                              "loss": float(loss)})
            del loss  # outside the clock
    finally:
        gc.enable()
    return steps


def medians(steps):
    """Medians of each part, and the fastest step ("best"): other jobs on a shared machine only
    add time, so with them the fastest step is the better estimate."""
    out = {k: statistics.median(s[k] for s in steps) for k in ("total", "fwd", "bwd", "opt")}
    out["best"] = min(s["total"] for s in steps)
    return out


def fmt_ms(seconds):
    return f"{seconds * 1e3:,.0f}" if seconds >= 0.1 else f"{seconds * 1e3:.1f}"


def time_models(args):
    from torch_op_bench import openblas_in_this_process  # noqa: E402 (bench/, beside us)

    cfg = load_config(args.config, args.set)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    wall0 = time.perf_counter()
    models = ["vqvae", "unet"] if args.model == "all" else [args.model]
    results = {}
    round_ratios = {m: [] for m in models}
    with tempfile.TemporaryDirectory(prefix="ldm-torchref-time-") as tmp:
        # Rounds of ours then PyTorch, so that a machine whose speed drifts during the run (a
        # busy neighbour on a shared core) slows both sides alike; the medians are taken over
        # the steps of all rounds.
        for r in range(args.rounds):
            for m in models:
                # PyTorch's and OpenBLAS's idle workers in this process go to sleep after a
                # while; until then they would spin on the cores ours needs (see above).
                if r > 0:
                    time.sleep(1.0)
                weights = os.path.join(tmp, f"{m}.safetensors")
                report, cmd = run_ours_time(args, m, weights)
                if r == 0:
                    results[m] = {"ours": report, "command": cmd, "weights": weights,
                                  "torch": []}
                else:
                    results[m]["ours"]["steps"] += report["steps"]
                torch.set_num_threads(THREADS)
                print(f"torch: {m} (round {r + 1} of {args.rounds})", file=sys.stderr, flush=True)
                steps = time_torch(args, m, cfg, results[m]["ours"]["config"], weights)
                results[m]["torch"] += steps
                round_ratios[m].append(statistics.median(s["total"] for s in report["steps"]) /
                                       statistics.median(s["total"] for s in steps))
            if r == 0:
                load_mid = os.getloadavg()
    load_end = os.getloadavg()
    wall = time.perf_counter() - wall0

    blas_cfg, blas_threads = openblas_in_this_process()
    env = {k: os.environ.get(k, "(unset)")
           for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY")}
    ctx = results[models[0]]["ours"]
    print(f"# ours vs PyTorch {torch.__version__}, {started:%Y-%m-%d %H:%M} UTC, load average "
          f"{load_start[0]:.2f} at start, {load_mid[0]:.2f} after round 1, {load_end[0]:.2f} at "
          f"end; {wall:.0f} s")
    print(f"# ours:  omp_max_threads={ctx['omp_max_threads']} "
          f"openblas_threads={ctx['openblas_threads']} "
          f"OPENBLAS_CORETYPE={ctx['OPENBLAS_CORETYPE']} "
          f"OPENBLAS_L2_SIZE={ctx['OPENBLAS_L2_SIZE']} "
          f"OMP_WAIT_POLICY={ctx['OMP_WAIT_POLICY']}; {ctx['openblas_config']}")
    print(f"# torch: get_num_threads={torch.get_num_threads()} "
          f"interop={torch.get_num_interop_threads()} openblas_threads={blas_threads} "
          f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} "
          f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']} "
          f"OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}; {blas_cfg}; "
          f"mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"# {os.path.basename(args.config)}, batch {args.batch}, {THREADS} threads; {args.rounds} "
          f"rounds of ours then PyTorch, each {args.steps} steps after {args.warmup} warm-up "
          f"steps; medians over all rounds; step = zero_grad + forward + loss + backward + AdamW; "
          f"ratio = ours / torch (< 1: we are faster)")
    print()
    print("| model | parameters | ours step (ms) | torch step (ms) | ours / torch "
          "| ratio per round | best step ours / torch (ms) | ours fwd / bwd / opt (ms) "
          "| torch fwd / bwd / opt (ms) |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    rows = []
    for m in models:
        o, t = medians(results[m]["ours"]["steps"]), medians(results[m]["torch"])
        ratio = o["total"] / t["total"]
        rows.append({"model": m, "parameters": results[m]["ours"]["parameters"], "ours": o,
                     "torch": t, "ratio": ratio, "best_ratio": o["best"] / t["best"],
                     "ours_steps": results[m]["ours"]["steps"],
                     "torch_steps": results[m]["torch"], "command": results[m]["command"],
                     "round_ratios": round_ratios[m]})
        per_round = ", ".join(f"{x:.2f}" for x in round_ratios[m])
        print(f"| {m} | {results[m]['ours']['parameters']:,} | {fmt_ms(o['total'])} "
              f"| {fmt_ms(t['total'])} | **{ratio:.2f}** | {per_round} "
              f"| {fmt_ms(o['best'])} / {fmt_ms(t['best'])} = {o['best'] / t['best']:.2f} "
              f"| {fmt_ms(o['fwd'])} / {fmt_ms(o['bwd'])} / {fmt_ms(o['opt'])} "
              f"| {fmt_ms(t['fwd'])} / {fmt_ms(t['bwd'])} / {fmt_ms(t['opt'])} |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"date": started.isoformat(), "load_avg": [load_start, load_mid, load_end],
                       "config": args.config, "overrides": args.set, "batch": args.batch,
                       "threads": THREADS, "steps": args.steps, "warmup": args.warmup,
                       "ours_context": {k: v for k, v in ctx.items()
                                        if k not in ("steps", "config")},
                       "ours_config": ctx["config"],
                       "torch": {"version": torch.__version__, "threads": torch.get_num_threads(),
                                 "openblas": blas_cfg, **env},
                       "rows": rows}, f, indent=1)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare outputs and gradients")
    mode.add_argument("--time", action="store_true", help="time training steps side by side")
    ap.add_argument("--model-ref", required=True, help="path to the ldm-model-ref executable")
    ap.add_argument("--config", default=os.path.join(REPO, "configs", "pneumonia28.json"))
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a config field (both sides); --check then skips the "
                    "reduced cases")
    ap.add_argument("--model", choices=("all", "vqvae", "unet"), default="all")
    ap.add_argument("--batch", type=int, help="batch size (default: 4 for --check, 64 for "
                    "--time)")
    ap.add_argument("--steps", type=int, default=10, help="--time: timed steps per model")
    ap.add_argument("--warmup", type=int, default=2, help="--time: untimed steps first")
    ap.add_argument("--rounds", type=int, default=3, help="--time: rounds of ours then PyTorch")
    ap.add_argument("--json-out", help="--time: also write all numbers to this JSON file")
    ap.add_argument("--torch-omp-wait-policy", choices=("passive", "active"),
                    help="--time: OMP_WAIT_POLICY for the PyTorch side only (default: as "
                    "inherited)")
    ap.add_argument("--keep", metavar="DIR", help="--check: write the case files here, keep them")
    ap.add_argument("-v", "--verbose", action="store_true", help="--check: per-tensor errors")
    args = ap.parse_args()
    if not os.access(args.model_ref, os.X_OK):
        sys.exit(f"torch_reference: {args.model_ref} is not an executable (build ldm-model-ref)")
    if args.batch is None:
        args.batch = 4 if args.check else 64
    if args.batch < 1 or args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        sys.exit("torch_reference: --batch, --steps and --rounds must be >= 1, --warmup >= 0")

    args.ours_env = dict(os.environ)  # ldm-model-ref gets the environment we were started with
    if args.torch_omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.torch_omp_wait_policy.upper()
    global torch, nn, F
    import torch  # noqa: F811
    import torch.nn as nn  # noqa: F811
    import torch.nn.functional as F  # noqa: F811
    define_models()
    return check(args) if args.check else time_models(args)


if __name__ == "__main__":
    sys.exit(main())
