"""Lifter checkpoints: one .pt file holding the config, the weights and where they came from.

Written atomically (a crash never leaves a truncated file under the final name) and checked on
load, so that a wrong or damaged file is reported with its path and what is wrong with it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from adaptation.model import LifterConfig, build_model
from adaptation.runtime import DEFAULT_MODEL_DIR

DEFAULT_MODEL = DEFAULT_MODEL_DIR / "lifter.pt"


def json_safe(value):
    """Metadata as plain JSON types (numpy scalars and arrays become floats and lists), so that
    every consumer can read the checkpoint with torch.load(weights_only=True)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def save(path: str | os.PathLike, model: nn.Module, **meta) -> Path:
    """Save weights + config (+ metadata, e.g. the command that trained it, made JSON-safe)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"format": "posynda-lifter/1", "config": model.config.to_dict(),
                "state_dict": model.state_dict(), "meta": json_safe(meta)}, partial)
    os.replace(partial, path)
    return path


def card_beside(path: str | os.PathLike) -> dict:
    """The model card (model.json) beside a checkpoint in a model directory; {} for a bare checkpoint."""
    card = Path(path).with_name("model.json")
    return json.loads(card.read_text()) if card.is_file() else {}


def load(path: str | os.PathLike | None = None, device: str = "cpu") -> tuple[nn.Module, dict]:
    """Load a lifter (default: the shipped model); returns (model in eval mode, metadata)."""
    path = Path(path) if path else DEFAULT_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such lifter checkpoint")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises many types for damaged zip/pickle data
        raise ValueError(f"{path}: not a readable lifter checkpoint ({error})") from error
    if not isinstance(blob, dict) or blob.get("format") != "posynda-lifter/1":
        raise ValueError(f"{path}: not a posynda lifter checkpoint (format {blob.get('format') if isinstance(blob, dict) else type(blob)})")
    try:
        config = LifterConfig(**blob["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: unsupported lifter config ({error})") from error
    model = build_model(config).to(device)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"{path}: weights do not match config {config}: {error}") from error
    return model.eval(), blob.get("meta", {})
