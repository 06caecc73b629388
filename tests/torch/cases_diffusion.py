"""Cross-check cases for vector quantization, the sampler ops and the in-place updates:
vector_quantize against a PyTorch VQ with stop-gradients, cfg_combine / ddpm_step / ddim_step
against their textbook formulas (coefficients from the linear beta schedule), adamw_step against
torch.optim.AdamW and ema_update against its formula."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from common import EPS, EXACT, Case, Rand, max_abs, tol_elementwise, tol_sum

T = 1000
BETAS = np.linspace(1e-4, 2e-2, T)  # the original recipe's linear schedule
ALPHA_BARS = np.cumprod(1 - BETAS)


def vector_quantize(name, N, D, H, W, K, beta=0.25, codebook_uniform=False):
    r = Rand("vector_quantize", name)
    z_e = r.normal(N, D, H, W)
    codebook = r.uniform(K, D, low=-1, high=1) if codebook_uniform else r.normal(K, D)
    flat = z_e.transpose(0, 2, 3, 1).reshape(-1, D).astype(np.float64)
    dist = ((flat[:, None, :] - codebook[None].astype(np.float64)) ** 2).sum(-1)
    nearest = np.sort(dist, axis=1)
    # A float32 distance (expanded or not) errs by about EPS * D * (|z|^2 + |c|^2); indices are
    # compared exactly, so inputs whose two nearest codes are within 20x that would test
    # rounding, not the search (the inputs are seeded: this either always or never fires).
    scale = float((flat ** 2).sum(1).max() + (codebook.astype(np.float64) ** 2).sum(1).max())
    if np.min(nearest[:, 1] - nearest[:, 0]) < 20 * EPS * D * scale:
        raise ValueError(f"vector_quantize/{name}: inputs have a near-tie; pick other sizes")
    idx = dist.argmin(1)
    n = z_e.size
    d_max = float(np.sqrt(nearest[:, 0].max()))  # largest |z_q - z_e| component bound
    sq = float(nearest[:, 0].sum() / n)
    count = int(np.bincount(idx, minlength=K).max())

    def reference(t):
        ze, cb = t["z_e"], t["codebook"]
        f = ze.permute(0, 2, 3, 1).reshape(-1, D)
        i = ((f[:, None, :] - cb[None]) ** 2).sum(-1).argmin(1)
        zq = cb[i].reshape(N, H, W, D).permute(0, 3, 1, 2)
        loss = F.mse_loss(zq.detach(), ze) * beta + F.mse_loss(zq, ze.detach())
        return {"z_q": ze + (zq - ze).detach(), "indices": i.reshape(N, H, W), "loss": loss}

    # z_q is the chosen code copied (the float64 z_e + (c - z_e) is exactly c). The loss is
    # (1 + beta) times a mean of n squared differences (a sum of n terms of size sq / n).
    # dz_e = g_zq + 2 beta (z_e - z_q) g_loss / n: a few roundings of values up to max|g| ~ 4.
    # dcodebook_k sums 2 (c_k - z_e) g_loss / n over the (at most `count`) pixels using code k.
    tols = {"z_q": EXACT, "loss": tol_sum(n, (1 + beta) * sq / n),
            "grad.z_e": tol_elementwise(4 + 2 * beta * d_max * 4 / n),
            "grad.codebook": tol_sum(count, 2 * d_max * 4 / n)}
    return Case("vector_quantize", name, {"z_e": z_e, "codebook": codebook}, reference, tols,
                {"beta": beta}, exact_int=("indices",))


def cfg_combine(name, shape, scale):
    r = Rand("cfg_combine", name)
    eps_both = r.normal(*shape)
    half = shape[0] // 2
    x_max = max_abs(eps_both)

    def reference(t):
        c, u = t["eps_both"][:half], t["eps_both"][half:]
        return {"out": u + scale * (c - u)}

    # u + s (c - u): 3 roundings of values up to (1 + 2|s|) max|eps|. The gradients s g and
    # (1 - s) g: 2 roundings of values up to (1 + |s|) max|g| (g ~ N(0, 1), max|g| < 4).
    tols = {"out": tol_elementwise((1 + 2 * abs(scale)) * x_max),
            "grad.eps_both": tol_elementwise((1 + abs(scale)) * 4)}
    return Case("cfg_combine", name, {"eps_both": eps_both}, reference, tols, {"scale": scale})


def ddpm_step(name, shape, t_index, with_noise=True):
    r = Rand("ddpm_step", name)
    inputs = {"x_t": r.normal(*shape), "eps": r.normal(*shape)}
    if with_noise:
        inputs["noise"] = r.normal(*shape)
    beta, ab = float(BETAS[t_index]), float(ALPHA_BARS[t_index])
    alpha = 1 - beta
    ab_prev = float(ALPHA_BARS[t_index - 1]) if t_index > 0 else 1.0
    sigma = math.sqrt(beta * (1 - ab_prev) / (1 - ab)) if with_noise else 0.0  # posterior std
    coef_x, coef_eps = 1 / math.sqrt(alpha), beta / (math.sqrt(alpha) * math.sqrt(1 - ab))

    def reference(t):
        mean = (t["x_t"] - beta / math.sqrt(1 - ab) * t["eps"]) / math.sqrt(alpha)
        return {"out": mean + sigma * t["noise"] if with_noise else mean}

    x_max = max_abs(*inputs.values())
    coef_sum = coef_x + coef_eps + sigma
    # coef_x x - coef_eps eps + sigma noise: each coefficient rounded to float32, 3 products,
    # 2 sums, all of values up to coef_sum * max|x|. Gradients: coefficient times g, 2 roundings.
    tols = {"out": tol_elementwise(coef_sum * x_max, 6),
            "*": tol_elementwise(max(coef_x, coef_eps, sigma) * 4, 2)}
    return Case("ddpm_step", name, inputs, reference, tols,
                {"coef_x": coef_x, "coef_eps": coef_eps, "sigma": sigma})


def ddim_step(name, shape, ab_t, ab_prev, eta):
    r = Rand("ddim_step", name)
    sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
    inputs = {"x_t": r.normal(*shape), "eps": r.normal(*shape)}
    if sigma > 0:
        inputs["noise"] = r.normal(*shape)

    def reference(t):
        x0 = (t["x_t"] - math.sqrt(1 - ab_t) * t["eps"]) / math.sqrt(ab_t)
        out = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev - sigma ** 2) * t["eps"]
        return {"out": out + sigma * t["noise"] if sigma > 0 else out}

    x_max = max_abs(*inputs.values())
    # Intermediate values: x0 up to (1 + sqrt(1 - ab_t)) / sqrt(ab_t) max|x|, scaled by
    # sqrt(ab_prev), then two more terms; about 8 roundings of values up to that sum. The
    # gradients are sums of two such coefficients times g (max|g| < 4).
    coef_x = math.sqrt(ab_prev / ab_t)
    coef_eps = math.sqrt(ab_prev) * math.sqrt(1 - ab_t) / math.sqrt(ab_t) + \
        math.sqrt(1 - ab_prev - sigma ** 2)
    tols = {"out": tol_elementwise((coef_x + coef_eps + sigma) * x_max, 8),
            "*": tol_elementwise(max(coef_x, coef_eps, sigma) * 4, 4)}
    return Case("ddim_step", name, inputs, reference, tols,
                {"alpha_bar_t": ab_t, "alpha_bar_prev": ab_prev, "sigma": sigma})


def adamw_step(name, shape, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
               start_step=1, grad_std=1.0, stacked=None):
    r = Rand("adamw_step", name)
    param = r.normal(*shape)
    grads = r.normal(steps, *shape, std=grad_std)
    if start_step > 1:  # resume: moment buffers of an earlier run
        m = r.normal(*shape, std=0.1 * grad_std)
        v = r.normal(*shape, std=grad_std) ** 2
    else:
        m, v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    stacked = steps > 1 if stacked is None else stacked
    params = {"lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps,
              "weight_decay": weight_decay, "step": start_step}
    if stacked:
        params["steps"] = steps
    inputs = {"param": param, "grad": grads if stacked else grads[0], "m": m, "v": v}

    def reference(t):
        p = torch.nn.Parameter(t["param"].clone())
        opt = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        # torch counts the steps already taken; our `step` is the number of the next one.
        opt.state[p] = {"step": torch.tensor(float(start_step - 1)),
                        "exp_avg": t["m"].clone(), "exp_avg_sq": t["v"].clone()}
        g = t["grad"] if stacked else t["grad"][None]
        for s in range(steps):
            p.grad = g[s].clone()
            opt.step()
        return {"param": p.detach(), "m": opt.state[p]["exp_avg"],
                "v": opt.state[p]["exp_avg_sq"]}

    g_max = max(max_abs(grads), max_abs(m))
    # Per step: param decays and moves by lr * m_hat / (sqrt(v_hat) + eps), a ratio of size <= 3
    # here, each with a few roundings (~8 per step in all, relative to |param| and to 3 lr); m
    # and v are 3 roundings per step of values up to max|g| and max|g|^2. Errors add over steps.
    tols = {"param": tol_elementwise(3 * lr, 8 * steps),
            "m": tol_elementwise(g_max, 3 * steps),
            "v": tol_elementwise(max(g_max ** 2, max_abs(v)), 3 * steps)}
    return Case("adamw_step", name, inputs, reference, tols, params)


def ema_update(name, shape, decay):
    r = Rand("ema_update", name)
    inputs = {"ema": r.normal(*shape), "param": r.normal(*shape)}
    # decay * ema + (1 - decay) * param: 4 roundings of values up to max(|ema|, |param|).
    return Case("ema_update", name, inputs,
                lambda t: {"ema": decay * t["ema"] + (1 - decay) * t["param"]},
                {"ema": tol_elementwise(max_abs(*inputs.values()), 4)}, {"decay": decay})


def cases():
    return [
        vector_quantize("K 7, D 3, odd grid", 2, 3, 5, 3, 7),
        vector_quantize("K 16, D 4, beta 1", 1, 4, 3, 3, 16, beta=1.0),
        vector_quantize("frozen-style uniform codebook, K 512, D 3", 1, 3, 4, 4, 512,
                        codebook_uniform=True),
        cfg_combine("scale 3, NCHW", (4, 3, 5, 3), 3.0),
        cfg_combine("scale 0 (unconditional)", (2, 7), 0.0),
        cfg_combine("scale 1 (conditional)", (6, 5), 1.0),
        ddpm_step("t 999 (first step)", (2, 3, 4, 5), 999),
        ddpm_step("t 500", (2, 3, 5, 3), 500),
        ddpm_step("t 0, last step, no noise", (3, 7), 0, with_noise=False),
        ddim_step("eta 0, 0.35 -> 0.6", (2, 3, 5), 0.35, 0.6, 0.0),
        ddim_step("eta 1, noisy start", (2, 3, 4, 4), float(ALPHA_BARS[999]),
                  float(ALPHA_BARS[949]), 1.0),
        ddim_step("eta 0, final step to x0", (2, 3, 5), float(ALPHA_BARS[19]), 1.0, 0.0),
        adamw_step("1 step from zero state", (3, 37), 1, 1e-3),
        adamw_step("5 steps, lr 3e-4, wd 0.05", (4, 3, 3, 3), 5, 3e-4, weight_decay=0.05),
        adamw_step("resume at step 100", (5, 7), 1, 1e-3, start_step=100),
        adamw_step("tiny gradients (eps matters)", (2, 9), 3, 1e-3, grad_std=1e-8),
        adamw_step("betas 0.5/0.9, lr 0.1, no decay", (11,), 2, 0.1, betas=(0.5, 0.9),
                   weight_decay=0.0),
        ema_update("decay 0.999", (3, 41), 0.999),
        ema_update("decay 0.9", (2, 3, 3, 3), 0.9),
        ema_update("decay 0 (copy)", (7,), 0.0),
        ema_update("decay 1 (frozen)", (7,), 1.0),
    ]
