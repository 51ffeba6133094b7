"""The lifters: (2D window, noisy 3D window, diffusion step) -> clean 3D window.

`Denoiser` is the MixSTE-style diffusion denoiser: one token per (frame, joint); each block
attends over the joints of a frame (spatial), then over the frames of a joint (temporal).
`PoseTokenDenoiser` keeps MixSTE's alternation but with one token per frame: the spatial step is
a residual MLP over the whole pose (what makes the Martinez MLP strong), the temporal step
attends over frames; at CPU training budgets it learns far more per second (benchmarks/results/size_sweep.md).
`FrameMLP` is the control: a single-frame residual MLP (Martinez et al. 2017) behind the same
interface. Inputs and outputs are (B, F, J, C); 2D in normalised coordinates (camera rays,
adaptation.camera), 3D root-relative in metres with the pelvis exactly at 0.

Both read the 2D through `encode_keypoints`: each frame's pose centred on its pelvis and divided
by its 2D size, plus where it is (the pelvis ray) and how large (log size). Shape then does not
depend on the person's distance, while the ray and size keep what perspective tells.
`objective` "regression" turns either into a deterministic regressor (noise and step ignored).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from adaptation.camera import LIFTING_CAMERAS
from adaptation.skeleton import NUM_JOINTS, ROOT

ARCHITECTURES = ("mixste", "pose_tokens", "mlp")
OBJECTIVES = ("diffusion", "regression")
INPUT_FEATURES = 5            # centred, scaled 2D (2) + pelvis ray (2) + log 2D size (1)


@dataclass
class LifterConfig:
    """Defaults = the shipped model's size, chosen on validation (benchmarks/results/size_sweep.md)."""
    frames: int = 9           # temporal window F
    joints: int = NUM_JOINTS
    width: int = 512          # token width C (MLP: hidden width)
    depth: int = 2            # number of spatial+temporal block pairs L (MLP: residual blocks)
    heads: int = 8
    mlp_ratio: float = 1.0    # hidden width of the attention blocks' MLP, x C
    dropout: float = 0.1
    architecture: str = "pose_tokens"   # pose_tokens | mixste (joint tokens) | mlp (the single-frame control)
    objective: str = "diffusion"     # diffusion | regression (deterministic control)
    centre_2d: bool = True           # encode_keypoints; False feeds the raw 2D (benchmarks/normalisation.py)
    # The camera whose 2D the lifter reads (adaptation.camera): "upright" lifts any camera, turned by its
    # roll when the mount is known; "level" (also turned by its pitch) needs the camera mount.
    lifting_camera: str = "upright"
    # True: temporal attention sees a frame and the frames before it only, so every frame of a training window
    # is predicted as the node's causal windows publish their newest frame (the past, no future).
    causal: bool = False

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.lifting_camera not in LIFTING_CAMERAS:
            raise ValueError(f"lifting_camera must be one of {LIFTING_CAMERAS}, got {self.lifting_camera!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def build_model(config: LifterConfig) -> nn.Module:
    """The lifter a config describes."""
    return {"mixste": Denoiser, "pose_tokens": PoseTokenDenoiser, "mlp": FrameMLP}[config.architecture](config)


def encode_keypoints(keypoints_2d: torch.Tensor, centre: bool = True) -> torch.Tensor:
    """(B, F, J, 2) normalised 2D -> (B, F, J, 5): pose centred on the pelvis and divided by its
    RMS 2D size, the pelvis ray and the log size (the last two repeated for every joint).
    centre=False: the raw 2D and three zero channels (the measured alternative)."""
    if not centre:
        return torch.cat([keypoints_2d, torch.zeros_like(keypoints_2d[..., :1]).expand(*keypoints_2d.shape[:-1], 3)], -1)
    root = keypoints_2d[..., ROOT:ROOT + 1, :]
    centred = keypoints_2d - root
    size = centred.square().sum(-1).mean(-1, keepdim=True).sqrt().clamp_min(1e-3)[..., None]   # (B,F,1,1)
    return torch.cat([centred / size, root.expand_as(centred), size.log().expand(*centred.shape[:-1], 1)], dim=-1)


def finish_pose(pose: torch.Tensor, output_bias: torch.Tensor) -> torch.Tensor:
    """Add the cross-dataset bias and put the pelvis exactly at 0 (the targets are root-relative)."""
    pose = pose + output_bias
    return pose - pose[..., ROOT:ROOT + 1, :]


class Attention(nn.Module):
    """Multi-head self-attention written out, so LoRA can wrap `qkv` and `proj` and ONNX sees plain ops."""

    def __init__(self, width: int, heads: int, dropout: float, causal: bool = False):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.causal = causal          # each token attends to itself and the tokens before it
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(width // self.heads)
        if self.causal:
            position = torch.arange(length, device=x.device)
            scores = scores.masked_fill(position[None, :] > position[:, None], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        out = (self.dropout(weights) @ v).transpose(1, 2).reshape(n, length, width)
        return self.proj(out)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: attention then MLP, both residual."""

    def __init__(self, config: LifterConfig, causal: bool = False):
        super().__init__()
        hidden = int(config.width * config.mlp_ratio)
        self.norm1 = nn.LayerNorm(config.width)
        self.attention = Attention(config.width, config.heads, config.dropout, causal)
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
        self.embed = nn.Linear(INPUT_FEATURES + 3, c)
        self.joint_position = nn.Parameter(torch.zeros(1, config.joints, c))
        self.frame_position = nn.Parameter(torch.zeros(1, config.frames, c))
        self.step_mlp = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))
        self.spatial = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.temporal = nn.ModuleList(Block(config, config.causal) for _ in range(config.depth))
        self.head = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 3))
        # PoSynDA's cross-dataset embedding: a per-joint output offset, zero (and frozen) until
        # adaptation trains it; merged models carry the learned value.
        self.output_bias = nn.Parameter(torch.zeros(config.joints, 3), requires_grad=False)
        nn.init.trunc_normal_(self.joint_position, std=0.02)
        nn.init.trunc_normal_(self.frame_position, std=0.02)

    def forward(self, keypoints_2d: torch.Tensor, noisy_3d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, f, j, _ = keypoints_2d.shape
        c = self.config.width
        if self.config.objective == "regression":
            noisy_3d, t = torch.zeros_like(noisy_3d), torch.zeros_like(t)
        x = self.embed(torch.cat([encode_keypoints(keypoints_2d, self.config.centre_2d), noisy_3d], dim=-1))  # (B,F,J,C)
        x = x + self.step_mlp(timestep_features(t, c))[:, None, None, :]
        x = x + self.joint_position[:, None, :, :]
        x = x + self.frame_position[:, :f, None, :]
        for spatial, temporal in zip(self.spatial, self.temporal):
            x = spatial(x.reshape(b * f, j, c)).reshape(b, f, j, c)
            x = temporal(x.transpose(1, 2).reshape(b * j, f, c)).reshape(b, j, f, c).transpose(1, 2)
        return finish_pose(self.head(x), self.output_bias)


class PoseTokenDenoiser(nn.Module):
    """One token per frame (the whole pose): L x (residual pose MLP, then attention over frames)."""

    def __init__(self, config: LifterConfig):
        super().__init__()
        self.config = config
        c, j = config.width, config.joints
        self.embed = nn.Linear(j * (INPUT_FEATURES + 3), c)
        self.frame_position = nn.Parameter(torch.zeros(1, config.frames, c))
        self.step_mlp = nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))
        self.spatial = nn.ModuleList(PoseMLPBlock(c, config.dropout) for _ in range(config.depth))
        self.temporal = nn.ModuleList(Block(config, config.causal) for _ in range(config.depth))
        self.head = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, j * 3))
        self.output_bias = nn.Parameter(torch.zeros(j, 3), requires_grad=False)   # as in Denoiser
        nn.init.trunc_normal_(self.frame_position, std=0.02)

    def forward(self, keypoints_2d: torch.Tensor, noisy_3d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, f, j, _ = keypoints_2d.shape
        if self.config.objective == "regression":
            noisy_3d, t = torch.zeros_like(noisy_3d), torch.zeros_like(t)
        features = torch.cat([encode_keypoints(keypoints_2d, self.config.centre_2d), noisy_3d], dim=-1)
        x = self.embed(features.reshape(b, f, -1))                                    # (B,F,C)
        x = x + self.step_mlp(timestep_features(t, self.config.width))[:, None, :] + self.frame_position[:, :f]
        for spatial, temporal in zip(self.spatial, self.temporal):
            x = temporal(spatial(x))
        return finish_pose(self.head(x).reshape(b, f, j, 3), self.output_bias)


class PoseMLPBlock(nn.Sequential):
    """Martinez et al.'s residual block on a whole-pose vector: 2 x (Linear, LayerNorm, ReLU, Dropout)."""

    def __init__(self, width: int, dropout: float):
        super().__init__(nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


class FrameMLP(nn.Module):
    """The single-frame control (Martinez et al. 2017): residual blocks on one frame's 2D; the
    noise and the diffusion step are ignored (deterministic)."""

    def __init__(self, config: LifterConfig):
        super().__init__()
        self.config = config
        c, j = config.width, config.joints
        self.embed = nn.Linear(j * INPUT_FEATURES, c)
        self.blocks = nn.ModuleList(PoseMLPBlock(c, config.dropout) for _ in range(config.depth))
        self.head = nn.Linear(c, j * 3)
        self.output_bias = nn.Parameter(torch.zeros(j, 3), requires_grad=False)

    def forward(self, keypoints_2d: torch.Tensor, noisy_3d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, f, j, _ = keypoints_2d.shape
        x = self.embed(encode_keypoints(keypoints_2d, self.config.centre_2d).reshape(b, f, j * INPUT_FEATURES))
        for block in self.blocks:
            x = block(x)
        return finish_pose(self.head(x).reshape(b, f, j, 3), self.output_bias)
