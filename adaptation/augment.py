"""Target-specified source augmentation F ("global position alignment", PoSynDA / PoseDA).

A source 3D clip is placed where a real target person stands: per frame, the depth that makes
the source pose as large in the target image as the target person, and the root translation
that puts its pelvis on the target's pelvis; then it is projected through the target camera.
The 3D label stays the root-relative source pose. Clips pair with clips, frame f with frame f,
so the synthetic 2D follows a real target track (the research code paired random frames).
Placement alone cannot show the student the target's viewpoint: the source poses keep the
source cameras' orientation (the studio looks down from 1.5 m, a robot may look up from knee
height), and the studio model's error on robot views is mostly that tilt. With the target
camera's mount known (adaptation.mount), `mounted_source` takes source mocap in world coordinates,
turns each clip to face a random way and views it through the mounted camera, so the labels carry
the target's pitch and roll; `align_to_target` then places it as above. Without a mount, `repose`
may tilt the source pose by random angles (a blind guess, kept for the ablation).
All tensors are torch; 2D and intrinsics in normalised image units (adaptation.camera).
"""
from __future__ import annotations

import numpy as np
import torch

from adaptation.camera import project
from adaptation.clips import RandomWindows, cut
from adaptation.mount import CameraMount
from adaptation.skeleton import BONES, ROOT, SYMMETRIC_BONES, rescale_bones

# Column of each right bone and of its left twin in BONES order (twins get one scale).
_RIGHT_BONES = [BONES.index(right) for _, right in SYMMETRIC_BONES]
_LEFT_BONES = [BONES.index(left) for left, _ in SYMMETRIC_BONES]


def reprojected(batch: dict[str, torch.Tensor], moved: torch.Tensor) -> torch.Tensor:
    """The windows' 2D for moved root-relative joints `moved` (same pelvis, `root_3d`): each window's
    detector noise (its 2D minus the clean projection of its 3D) is carried over."""
    root = batch["root_3d"][..., None, :]
    return batch["keypoints_2d"] - project(batch["pose_3d"] + root, 1.0, 0.0) + project(moved + root, 1.0, 0.0)


def vary_proportions(batch: dict[str, torch.Tensor], amount: float) -> dict[str, torch.Tensor]:
    """Source augmentation for unseen subjects: each window's bones are scaled by factors drawn from
    U(1 - amount, 1 + amount) (a left bone and its right twin alike, every frame alike), the pelvis
    stays where it was and the 2D is re-projected (`reprojected`), so only the person's proportions
    change. Needs the windows' camera-frame pelvis (`root_3d`, from clips.ClipSampler on labelled views)."""
    pose = batch["pose_3d"]
    scales = 1 + amount * (2 * torch.rand(pose.shape[0], len(BONES), device=pose.device) - 1)
    scales[:, _RIGHT_BONES] = scales[:, _LEFT_BONES]
    varied = rescale_bones(pose, scales[:, None])
    return {**batch, "pose_3d": varied, "keypoints_2d": reprojected(batch, varied)}


def shift_keypoints(batch: dict[str, torch.Tensor], sigma_m: float) -> dict[str, torch.Tensor]:
    """Source augmentation for another detector's joint convention: each window's 2D is re-projected
    from joints moved by a constant random offset (N(0, sigma_m) metres per joint and axis, the same
    in every frame), the 3D target unchanged. A 2D detector and mocap disagree by a few cm on where
    a hip or a shoulder is. Needs `root_3d`, as vary_proportions."""
    pose = batch["pose_3d"]
    offsets = sigma_m * torch.randn(pose.shape[0], 1, *pose.shape[2:], device=pose.device)
    return {**batch, "keypoints_2d": reprojected(batch, pose + offsets)}


class MocapClips(RandomWindows):
    """Random windows of world-frame mocap (y up, metres): the source of mount-aware augmentation."""

    def __init__(self, sequences: list[np.ndarray], frames: int, seed: int = 0):
        if not sequences:
            raise ValueError("no source mocap sequences")
        super().__init__([len(s) for s in sequences], frames, seed)
        self.sequences = [s.astype(np.float32) for s in sequences]

    def sample(self, batch: int) -> torch.Tensor:
        """(B, F, J, 3) world-frame clips."""
        return torch.from_numpy(np.stack([cut(self.sequences[i], start, self.frames) for i, start in self.draw(batch)]))


def mounted_source(world_clips: torch.Tensor, mount: CameraMount, generator: torch.Generator | None = None) -> torch.Tensor:
    """World clips (B, F, J, 3) -> root-relative poses in the mounted camera's frame, each clip turned
    about the vertical by a random angle (people face every way)."""
    yaw = torch.rand(world_clips.shape[0], generator=generator) * 2 * torch.pi
    c, s, zero, one = torch.cos(yaw), torch.sin(yaw), torch.zeros_like(yaw), torch.ones_like(yaw)
    turn = torch.stack([torch.stack([c, zero, s], -1), torch.stack([zero, one, zero], -1),
                        torch.stack([-s, zero, c], -1)], -2)                       # (B,3,3) about world y
    rotation = torch.from_numpy(mount.rotation()).float() @ turn                    # world -> camera
    relative = world_clips - world_clips[..., ROOT:ROOT + 1, :]
    return torch.einsum("bij,bfkj->bfki", rotation.to(world_clips.device), relative)


def repose(pose: torch.Tensor, max_pitch_deg: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each root-relative clip (B, F, J, 3) about the camera x axis by one angle in
    [-max_pitch_deg, max_pitch_deg] (a change of viewing elevation)."""
    if max_pitch_deg <= 0:
        return pose
    angle = (torch.rand(pose.shape[0], generator=generator, device=pose.device) * 2 - 1) * max_pitch_deg * torch.pi / 180
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    x, y, z = pose.unbind(-1)
    return torch.stack([x, cos * y - sin * z, sin * y + cos * z], dim=-1)


def size_2d(keypoints: torch.Tensor) -> torch.Tensor:
    """(..., J, 2) -> (...,) a person's apparent size: the mean of the 2D bounding box's sides."""
    return (keypoints.amax(-2) - keypoints.amin(-2)).sum(-1) / 2


def detector_noise(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each labelled window's detector noise (B, F, J, 2): its 2D minus the clean projection of its
    3D, in units of the person's apparent size, so `align_to_target` can carry it to a person of
    another size. The source 2D of the lifter's training - rendered noise, through the node's
    filter when it was trained so - thereby reaches the adaptation too. Needs `root_3d`."""
    clean = project(batch["pose_3d"] + batch["root_3d"][..., None, :], 1.0, 0.0)
    return (batch["keypoints_2d"] - clean) / size_2d(clean).clamp_min(1e-4)[..., None, None]


def align_to_target(source_pose: torch.Tensor, target_keypoints: torch.Tensor, target_camera: torch.Tensor,
                    noise: torch.Tensor | None = None) -> torch.Tensor:
    """Source pose (B, F, J, 3) root-relative metres, target 2D (B, F, J, 2), camera (B, 4) = f_n, c_n
    -> the source pose's 2D (B, F, J, 2) as the target camera would see it at the target's place,
    plus `noise` (from `detector_noise`) scaled to the target person's size when given."""
    f = target_camera[:, None, None, :2]                                   # (B,1,1,2)
    c = target_camera[:, None, None, 2:]
    scale_2d = size_2d(target_keypoints)                                    # (B,F)
    extent_3d = source_pose[..., :2].amax(-2) - source_pose[..., :2].amin(-2)   # dx, dy
    depth = (f[:, :, 0, 0] * extent_3d[..., 0] + f[:, :, 0, 1] * extent_3d[..., 1]) / (2 * scale_2d.clamp_min(1e-4))
    root_2d = target_keypoints[..., ROOT, :]                                # (B,F,2)
    root_xy = depth[..., None] * (root_2d - c[:, :, 0]) / f[:, :, 0]
    translation = torch.cat([root_xy, depth[..., None]], dim=-1)            # (B,F,3)
    placed = source_pose - source_pose[..., ROOT:ROOT + 1, :] + translation[..., None, :]
    keypoints = project(placed, f, c)
    return keypoints if noise is None else keypoints + noise * size_2d(keypoints)[..., None, None]
