"""Laplacian-preconditioned vertex optimization ("Large Steps in Inverse Rendering of Geometry",
Nicolet, Jacobson & Jakob 2021), on CPU or GPU through cholespy.

Vertex positions ``x`` (V, 3) are reparameterized as ``u = (I + λ L) x`` with the uniform graph
Laplacian ``L``; gradient steps on ``u`` move ``x`` by ``(I + λ L)^-1`` times the gradient, a
smoothed update that lets the mesh move far without tangling. The PyPI ``largesteps`` package
hard-codes CUDA, so the few lines it needs are here, with cholespy's solver (CPU and CUDA).
"""

from __future__ import annotations

import numpy as np
import torch
from cholespy import CholeskySolverF, MatrixType

from relight.data.mesh import unique_edges


def laplacian_coo(faces: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform Laplacian ``L = D - A`` of the mesh graph as COO arrays (rows, cols, values)."""
    e = unique_edges(faces)
    i = np.concatenate([e[:, 0], e[:, 1]])
    j = np.concatenate([e[:, 1], e[:, 0]])
    deg = np.bincount(i, minlength=n).astype(np.float64)
    rows = np.concatenate([i, np.arange(n)])
    cols = np.concatenate([j, np.arange(n)])
    vals = np.concatenate([-np.ones(len(i)), deg])
    return rows, cols, vals


class LaplacianSolver:
    """``M = I + λ L`` (symmetric positive definite) with a Cholesky factorization.

    ``to_differential(x)`` gives ``u = M x``; ``from_differential(u)`` solves ``M x = u`` and is
    differentiable (its adjoint is the same solve, M being symmetric).
    """

    def __init__(self, faces: np.ndarray, n_vertices: int, lam: float, device: str = "cpu"):

        rows, cols, vals = laplacian_coo(faces, n_vertices)
        vals = lam * vals
        rows = np.concatenate([rows, np.arange(n_vertices)])
        cols = np.concatenate([cols, np.arange(n_vertices)])
        vals = np.concatenate([vals, np.ones(n_vertices)])
        self.device = torch.device(device)
        t = dict(device=self.device)
        self.M = torch.sparse_coo_tensor(torch.tensor(np.stack([rows, cols])), torch.tensor(vals, dtype=torch.float32),
                                         (n_vertices, n_vertices), check_invariants=True).coalesce().to(**t)
        self.solver = CholeskySolverF(n_vertices, torch.tensor(rows, dtype=torch.int32, **t),
                                      torch.tensor(cols, dtype=torch.int32, **t),
                                      torch.tensor(vals, dtype=torch.float32, **t), MatrixType.COO)

    def solve(self, b: torch.Tensor) -> torch.Tensor:
        x = torch.zeros_like(b)
        self.solver.solve(b.detach().contiguous(), x)
        return x

    def to_differential(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sparse.mm(self.M, x.detach())

    def from_differential(self, u: torch.Tensor) -> torch.Tensor:
        return _Solve.apply(u, self)


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, solver):
        ctx.solver = solver
        return solver.solve(u)

    @staticmethod
    def backward(ctx, grad):
        return ctx.solver.solve(grad.contiguous()), None


class UniformAdam(torch.optim.Optimizer):
    """Adam whose second-moment normalization is one scalar (the max over all entries), so the
    preconditioned update keeps the smooth shape ``M^-1 g`` instead of being whitened per vertex
    (the optimizer of the Large Steps paper)."""

    def __init__(self, params, lr: float = 3e-2, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["t"] += 1
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = st["m"] / (1 - b1 ** st["t"])
                v_hat = st["v"].max() / (1 - b2 ** st["t"])
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))
