"""Diffusion for the lifter: cosine schedule, training noise, DDIM sampling with H hypotheses.

The network predicts the clean pose y0 (D3DP). Sampling starts from pure noise and runs K DDIM
steps on the grid linspace(-1, T-1, K+1) reversed; K = 1 is one denoiser call at t = T-1.
`Sampler` unrolls the K steps into one module: the graph that is exported to ONNX (eta = 0, the
deterministic DDIM; eta = 1 draws fresh noise at every step, as DDPM does, for benchmarks).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from adaptation.skeleton import flip_pose

STEPS = 1000
CLAMP = 2.0   # metres: y_t is clamped to the range root-relative poses live in (D3DP style)
SPACINGS = ("uniform", "quadratic")


def cosine_alphas_cumprod(steps: int = STEPS, s: float = 0.008) -> torch.Tensor:
    """abar_t of the cosine schedule (Nichol & Dhariwal), betas clipped to 0.999."""
    x = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    f = torch.cos(((x / steps) + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    betas = (1 - abar[1:] / abar[:-1]).clamp(0, 0.999)
    return torch.cumprod(1 - betas, 0).float()


ALPHAS_CUMPROD = cosine_alphas_cumprod()


def add_noise(y0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """y_t = sqrt(abar_t) y0 + sqrt(1 - abar_t) eps, clamped; t is (B,)."""
    abar = ALPHAS_CUMPROD.to(y0.device)[t].view(-1, *([1] * (y0.dim() - 1)))
    return (abar.sqrt() * y0 + (1 - abar).sqrt() * noise).clamp(-CLAMP, CLAMP)


def ddim_timesteps(k: int, steps: int = STEPS, spacing: str = "uniform") -> list[tuple[int, int]]:
    """(t, t_next) pairs of a K-step DDIM run; t_next = -1 means 'return y0'. "quadratic" spacing
    (DDIM paper) puts the late steps at small t, where the noise is as small as the pose's own
    ambiguity (a few cm) and the hypotheses can part."""
    if k < 1:
        raise ValueError(f"DDIM needs at least one step, got {k}")
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    if spacing == "uniform":
        grid = [int(v) for v in torch.linspace(-1, steps - 1, k + 1).tolist()]
    else:
        grid = [round(v * v * steps) - 1 for v in torch.linspace(0, 1, k + 1, dtype=torch.float64).tolist()]
    grid = list(reversed(grid))
    return list(zip(grid[:-1], grid[1:]))


class Sampler(nn.Module):
    """K unrolled DDIM steps: (2D window, starting noise) -> root-relative 3D window.

    Batch several noises for the same 2D window to get several hypotheses; `flip` averages the
    prediction with that of the mirrored input (twice the cost). eta > 0 adds fresh noise at every
    step but the last (drawn from `generator`), so hypotheses differ by more than their start.
    """

    def __init__(self, denoiser: nn.Module, k: int = 1, flip: bool = False, eta: float = 0.0,
                 generator: torch.Generator | None = None, spacing: str = "uniform"):
        super().__init__()
        self.denoiser = denoiser
        self.flip = flip
        self.eta = eta
        self.generator = generator
        self.timesteps = ddim_timesteps(k, spacing=spacing)
        self.register_buffer("abar", ALPHAS_CUMPROD.clone(), persistent=False)

    def _denoise(self, keypoints_2d: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y0 = None
        for t, t_next in self.timesteps:
            t_batch = torch.full((y.shape[0],), t, dtype=torch.long, device=y.device)
            y0 = self.denoiser(keypoints_2d, y, t_batch)
            if t_next < 0:
                break
            abar_t, abar_next = self.abar[t], self.abar[t_next]
            eps = (y - abar_t.sqrt() * y0) / (1 - abar_t).sqrt()
            if self.eta == 0:
                y = abar_next.sqrt() * y0 + (1 - abar_next).sqrt() * eps
            else:
                sigma = self.eta * ((1 - abar_next) / (1 - abar_t) * (1 - abar_t / abar_next)).sqrt()
                fresh = torch.randn(y.shape, generator=self.generator, device=y.device)
                y = abar_next.sqrt() * y0 + (1 - abar_next - sigma ** 2).clamp(min=0).sqrt() * eps + sigma * fresh
            y = y.clamp(-CLAMP, CLAMP)
        return y0

    def forward(self, keypoints_2d: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        pose = self._denoise(keypoints_2d, noise)
        if self.flip:
            mirrored = self._denoise(flip_pose(keypoints_2d), flip_pose(noise))
            pose = 0.5 * (pose + flip_pose(mirrored))
        return pose


def sample_hypotheses(sampler: Sampler, keypoints_2d: torch.Tensor, hypotheses: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, F, J, 2) -> (B, H, F, J, 3): H independent starting noises per window."""
    b = keypoints_2d.shape[0]
    repeated = keypoints_2d.repeat_interleave(hypotheses, dim=0)
    noise = torch.randn(*repeated.shape[:-1], 3, generator=generator, device=keypoints_2d.device)
    return sampler(repeated, noise).reshape(b, hypotheses, *keypoints_2d.shape[1:-1], 3)
