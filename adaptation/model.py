"""The MixSTE-style denoiser: (2D window, noisy 3D window, diffusion step) -> clean 3D window.

One token per (frame, joint). Each block attends over the joints of a frame (spatial), then
over the frames of a joint (temporal). Inputs and outputs are (B, F, J, C); 2D in normalised
image coordinates (adaptation.camera), 3D root-relative in metres.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from adaptation.skeleton import NUM_JOINTS


@dataclass
class LifterConfig:
    frames: int = 27          # temporal window F
    joints: int = NUM_JOINTS
    width: int = 128          # token width C
    depth: int = 4            # number of spatial+temporal block pairs L
    heads: int = 8
    mlp_ratio: float = 2.0
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class Attention(nn.Module):
    """Multi-head self-attention written out, so LoRA can wrap `qkv` and `proj` and ONNX sees plain ops."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(width // self.heads), dim=-1)
        out = (self.dropout(weights) @ v).transpose(1, 2).reshape(n, length, width)
        return self.proj(out)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: attention then MLP, both residual."""

    def __init__(self, config: LifterConfig):
        super().__init__()
        hidden = int(config.width * config.mlp_ratio)
        self.norm1 = nn.LayerNorm(config.width)
        self.attention = Attention(config.width, config.heads, config.dropout)
        self.norm2 = nn.LayerNorm(config.width)
        self.mlp = nn.Sequential(nn.Linear(config.width, hidden), nn.GELU(), nn.Dropout(config.dropout),
                                 nn.Linear(hidden, config.width), nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def timestep_features(t: torch.Tensor, width: int) -> torch.Tensor:
    """Sinusoidal features of the diffusion step t (B,) -> (B, width)."""
    half = width // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class Denoiser(nn.Module):
    def __init__(self, config: LifterConfig):
        super().__init__()
        self.config = config
        c = config.width
        self.embed = nn.Linear(2 + 3, c)
        self.joint_position = nn.Parameter(torch.zeros(1, config.joints, c))
        self.frame_position = nn.Parameter(torch.zeros(1, config.frames, c))
        self.step_mlp = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))
        self.spatial = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.temporal = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.head = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 3))
        # PoSynDA's cross-dataset embedding: a per-joint output offset, zero (and frozen) until
        # adaptation trains it; merged models carry the learned value.
        self.output_bias = nn.Parameter(torch.zeros(config.joints, 3), requires_grad=False)
        nn.init.trunc_normal_(self.joint_position, std=0.02)
        nn.init.trunc_normal_(self.frame_position, std=0.02)

    def forward(self, keypoints_2d: torch.Tensor, noisy_3d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, f, j, _ = keypoints_2d.shape
        c = self.config.width
        x = self.embed(torch.cat([keypoints_2d, noisy_3d], dim=-1))                    # (B,F,J,C)
        x = x + self.step_mlp(timestep_features(t, c))[:, None, None, :]
        x = x + self.joint_position[:, None, :, :]
        x = x + self.frame_position[:, :f, None, :]
        for spatial, temporal in zip(self.spatial, self.temporal):
            x = spatial(x.reshape(b * f, j, c)).reshape(b, f, j, c)
            x = temporal(x.transpose(1, 2).reshape(b * j, f, c)).reshape(b, j, f, c).transpose(1, 2)
        return self.head(x) + self.output_bias
