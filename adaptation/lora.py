"""Low-rank adapters (LoRA) on the attention projections, plus the cross-dataset output bias.

PoSynDA fine-tunes only these: every block's `qkv` and `proj` (and, in the pose-token denoiser,
the Linear layers of its whole-pose MLP blocks, where the spatial reasoning lives) get
W + (alpha / r) B A with B = 0 at the start (so the adapted model starts equal to the source
model), and the denoiser's (J, 3) `output_bias` becomes trainable. `merge_lora` folds the adapters back into plain Linear
layers for export.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from adaptation.model import Attention, PoseMLPBlock


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None):
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        self.base = base
        self.scale = (alpha or rank) / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

    def merged(self) -> nn.Linear:
        linear = nn.Linear(self.base.in_features, self.base.out_features)
        with torch.no_grad():
            linear.weight.copy_(self.base.weight + self.scale * self.lora_b @ self.lora_a)
            linear.bias.copy_(self.base.bias)
        return linear


def adapted_slots(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(parent, attribute) of every Linear that gets an adapter."""
    slots = []
    for module in model.modules():
        if isinstance(module, Attention):
            slots += [(module, "qkv"), (module, "proj")]
        elif isinstance(module, PoseMLPBlock):
            slots += [(module, name) for name, child in module.named_children() if isinstance(child, (nn.Linear, LoRALinear))]
    return slots


def prepare_for_adaptation(model: nn.Module, lora_rank: int | None, train_bias: bool) -> list[nn.Parameter]:
    """Freeze the model, add adapters (rank None: train every weight instead) and return what trains."""
    for p in model.parameters():
        p.requires_grad_(lora_rank is None)
    model.output_bias.requires_grad_(train_bias)
    if lora_rank is not None:
        for parent, name in adapted_slots(model):
            setattr(parent, name, LoRALinear(getattr(parent, name), lora_rank))
    return [p for p in model.parameters() if p.requires_grad]


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear by its merged Linear, in place; returns the model."""
    for parent, name in adapted_slots(model):
        layer = getattr(parent, name)
        if isinstance(layer, LoRALinear):
            setattr(parent, name, layer.merged())
    for p in model.parameters():
        p.requires_grad_(False)
    return model
