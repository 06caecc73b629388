"""Shared pieces of the PyTorch cross-check: the Case record, seeded input generation, and the
tolerance helpers every op's tolerance is built from.

Tolerances compare our float32 result with a float64 PyTorch reference computed from the same
float32 inputs: |ours - ref| <= atol + rtol * |ref|. They are derived, op by op, from float32
epsilon, the length of the reductions behind each value and the size of the values."""

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

EPS = 2.0 ** -23  # float32 machine epsilon (1.19e-7); one rounding errs by at most EPS / 2
UPDATE_OPS = {"adamw_step", "ema_update"}  # in-place updates: no autograd, updated tensors out


@dataclass
class Tol:
    atol: float
    rtol: float


EXACT = Tol(0.0, 0.0)  # pure data movement: every float32 value must come back bit for bit


def tol_elementwise(magnitude=1.0, roundings=4):
    """A value computed by a few (`roundings`) float32 operations on operands up to `magnitude`:
    each rounding errs by EPS / 2 of a value no larger than the magnitude involved (atol covers
    cancellation, rtol a large result). The factor 2 over the worst case is margin."""
    return Tol(roundings * EPS * magnitude, roundings * EPS)


def tol_sum(terms, magnitude=1.0):
    """A float32 sum of `terms` values of typical size `magnitude`. Summed one by one, partial
    sums of random-sign terms grow like magnitude * sqrt(k), so the k-th rounding errs by about
    EPS/2 * magnitude * sqrt(k) and the total error is about EPS/2 * magnitude * terms / sqrt(2)
    in rms (blocked or pairwise summation does better). We allow 4 * EPS * magnitude * terms,
    about 10x that rms, plus a few roundings relative to the result."""
    return Tol(4 * EPS * magnitude * max(terms, 1), 4 * EPS)


@dataclass
class Case:
    op: str
    name: str
    inputs: dict            # name -> np.ndarray, float32 (or int32 indices)
    reference: Callable     # dict name -> float64 (int64) torch tensors -> dict name -> tensor
    tols: dict              # "out", "grad.x", ...: Tol; "*" is the default for the others
    params: dict = field(default_factory=dict)
    exact_int: tuple = ()   # integer outputs that must match exactly (e.g. VQ indices)

    @property
    def title(self):
        return f"{self.op} / {self.name}"

    def tol(self, tensor_name):
        if tensor_name in self.tols:
            return self.tols[tensor_name]
        return self.tols["*"]


class Rand:
    """Seeded inputs for one case: the seed comes from the case's op and name, so adding or
    reordering cases leaves every other case's inputs unchanged."""

    def __init__(self, op, name, salt=""):
        self.gen = torch.Generator().manual_seed(zlib.crc32(f"{op}/{name}{salt}".encode()))

    def normal(self, *shape, mean=0.0, std=1.0):
        x = torch.randn(shape, generator=self.gen, dtype=torch.float32) * std + mean
        return x.numpy().astype(np.float32)

    def uniform(self, *shape, low=-1.0, high=1.0):
        x = torch.rand(shape, generator=self.gen, dtype=torch.float32) * (high - low) + low
        return x.numpy().astype(np.float32)

    def randint(self, *shape, bound):
        return torch.randint(0, bound, shape, generator=self.gen).numpy().astype(np.int32)


def max_abs(*arrays):
    return max(float(np.max(np.abs(a))) for a in arrays)

