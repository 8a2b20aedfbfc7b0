"""Per-view camera corrections refined with the geometry stage's loss (``GeometryConfig.pose_lr``).

Poses from structure from motion are off by a fraction of a pixel: on the blob photo set,
0.045 deg of median rotation error is 0.55 px at 512 px, and the views' silhouettes then disagree
by that much, so no mesh satisfies them all (``results/README.md``, session 30). Each view *i*
carries a rotation vector ``omega_i`` (radians, world axes, about the camera centre) and a centre
offset ``delta_i`` (world units); its corrected camera-to-world is ``[R(omega_i) Q_i | C_i + delta_i]``
for the capture's ``[Q_i | C_i]``.

The mesh can follow any similarity applied to all cameras at once (a common rotation about the
origin, a translation, a scale), so after every step the corrections are projected off those
seven directions: the mesh stays in the capture's frame, where the test views and the envmap are.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from relight.data.camera import Camera


def _skew(w: torch.Tensor) -> torch.Tensor:
    """(B, 3) -> (B, 3, 3) cross-product matrices."""
    z = torch.zeros_like(w[:, 0])
    return torch.stack([torch.stack([z, -w[:, 2], w[:, 1]], -1),
                        torch.stack([w[:, 2], z, -w[:, 0]], -1),
                        torch.stack([-w[:, 1], w[:, 0], z], -1)], -2)


class PoseCorrections:
    """The views' camera corrections and their Adam optimizer.

    ``lr`` is the rotation step in radians; the centre offsets step ``lr`` times the median
    camera distance from the origin, so both move image points by about the same amount.
    """

    def __init__(self, cameras: list[Camera], lr: float, device: torch.device | str = "cpu"):
        c2w = torch.tensor(np.stack([c.c2w for c in cameras]), dtype=torch.float32, device=device)
        self.Q, self.C = c2w[:, :3, :3], c2w[:, :3, 3]
        self.omega = torch.zeros(len(cameras), 3, device=device, requires_grad=True)
        self.delta = torch.zeros(len(cameras), 3, device=device, requires_grad=True)
        dist = float(self.C.norm(dim=1).median())
        self.opt = torch.optim.Adam([{"params": [self.omega], "lr": lr},
                                     {"params": [self.delta], "lr": lr * max(dist, 1e-6)}])

    def w2c(self, views: torch.Tensor) -> torch.Tensor:
        """(B, 4, 4) corrected world -> camera (OpenGL axes) of ``views`` (B,), differentiable."""
        R = torch.linalg.matrix_exp(_skew(self.omega[views]))
        Rt = (R @ self.Q[views]).transpose(1, 2)
        t = -(Rt @ (self.C[views] + self.delta[views])[..., None])
        bottom = torch.tensor([0.0, 0, 0, 1], device=Rt.device).expand(len(views), 1, 4)
        return torch.cat([torch.cat([Rt, t], 2), bottom], 1)

    def zero_grad(self) -> None:
        self.opt.zero_grad()

    def step(self) -> None:
        """One Adam step, then the corrections projected off the similarity gauge."""
        self.opt.step()
        with torch.no_grad():
            wg = self.omega.mean(0)  # the common rotation, about the origin
            self.omega.copy_(self.omega - wg)
            # what is left of the offsets after that rotation's displacement of the centres:
            # least squares of t + s * C (common translation and scale), removed
            d = self.delta - torch.cross(wg.expand_as(self.C), self.C, dim=1)
            A = torch.cat([torch.eye(3, device=d.device).repeat(len(d), 1),
                           self.C.reshape(-1, 1)], 1)  # (3N, 4): rows of [I | C_i]
            x = torch.linalg.lstsq(A, d.reshape(-1, 1)).solution
            self.delta.copy_((d.reshape(-1, 1) - A @ x).reshape(-1, 3))

    def cameras(self, cameras: list[Camera]) -> list[Camera]:
        """``cameras`` with the corrections applied (intrinsics unchanged)."""
        with torch.no_grad():
            w2c = self.w2c(torch.arange(len(cameras), device=self.C.device)).double().cpu().numpy()
        return [replace(c, c2w=np.linalg.inv(m)) for c, m in zip(cameras, w2c, strict=True)]

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The corrections and Adam's moments, for a checkpoint (numpy only)."""
        out = {"pose/omega": self.omega.detach().cpu().numpy(), "pose/delta": self.delta.detach().cpu().numpy()}
        for name, p in (("omega", self.omega), ("delta", self.delta)):
            for k, v in self.opt.state.get(p, {}).items():
                out[f"pose_opt/{name}/{k}"] = v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
        return out

    def restore(self, z) -> None:
        """Put :meth:`state_arrays`' arrays back (no-op when the checkpoint has none)."""
        if "pose/omega" not in z:
            return
        with torch.no_grad():
            self.omega.copy_(torch.from_numpy(z["pose/omega"]))
            self.delta.copy_(torch.from_numpy(z["pose/delta"]))
        for name, p in (("omega", self.omega), ("delta", self.delta)):
            keys = [k.rsplit("/", 1)[1] for k in z if k.startswith(f"pose_opt/{name}/")]
            if keys:
                self.opt.state[p] = {k: torch.from_numpy(np.asarray(z[f"pose_opt/{name}/{k}"])).to(p.device)
                                     if k != "step" else torch.tensor(float(z[f"pose_opt/{name}/{k}"]))
                                     for k in keys}
