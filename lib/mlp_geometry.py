"""Bias-free ReLU MLP classifiers trained as stacks, and the geometry of their training path.

Implements the networks of Mukherjee (2020), Chapter 6 (Definition 23, L3379): f_A(x) = A_d ReLU(A_{d-1} ...
ReLU(A_1 x)) with no biases, Glorot-uniform initialisation and ADAM on the cross-entropy (§6.4, L3489, L3510),
and the measurements of §6.5 and Appendix 6.E (L3521–3552, L3982): the norm dilation ||A||_2 / ||B||_2
of the concatenated weight vector, the angular deflection angle(A, B), the initial cone cluster B_{lambda*,j}
(Theorem 6.3.1, L3457) and the smallest epsilon and gamma of Definition 25 (L3425).

Every function works on a *stack* of M models of one architecture: layer l is a tensor ``W[l]: (M, out_l, in_l)``.
All M models train in one tensor program (``torch.bmm`` through ``@``), each with its own mini-batch sequence;
because ADAM acts element-wise and the stacked loss is a sum of per-model losses, ``torch.optim.Adam`` on the
stack is exactly M independent ADAM runs (tested against :func:`train_adam_loop`, the per-model loop).

Used by ``book/pac_bayes_bounds.md`` and ``lib/pac_bayes.py``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

Layers = list[torch.Tensor]  # W[l]: (M, out_l, in_l)


def layer_shapes(n_in: int, width: int, depth: int, n_out: int) -> list[tuple[int, int]]:
    """(out, in) of each of the ``depth`` layers: n_in -> width -> ... -> width -> n_out (depth >= 2)."""
    for name, v in (("n_in", n_in), ("width", width), ("n_out", n_out)):
        if int(v) < 1:
            raise ValueError(f"{name}={v}: accepted values are integers >= 1")
    if int(depth) < 2:
        raise ValueError(f"depth={depth}: accepted values are integers >= 2 (the bounds divide by d - 1)")
    dims = [n_in] + [width] * (depth - 1) + [n_out]
    return [(dims[i + 1], dims[i]) for i in range(depth)]


def glorot_uniform(M: int, shapes: Sequence[tuple[int, int]], *, generator: torch.Generator,
                   dtype: torch.dtype = torch.float32) -> Layers:
    """M stacked Glorot-uniform initialisations: W[l] ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (L3489)."""
    if M < 1:
        raise ValueError(f"M={M}: accepted values are integers >= 1")
    dev = generator.device
    out = []
    for o, i in shapes:
        a = math.sqrt(6.0 / (o + i))
        out.append((torch.rand(M, o, i, generator=generator, device=dev, dtype=dtype) * 2 - 1) * a)
    return out


def forward(W: Layers, X: torch.Tensor) -> torch.Tensor:
    """Logits of M bias-free ReLU nets. ``X``: (b, n) shared or (M, b, n) per model -> (M, b, k) (Def 23)."""
    h = X
    for l, Wl in enumerate(W):
        h = h @ Wl.transpose(-1, -2)  # (M, b, out_l)
        if l < len(W) - 1:
            h = torch.relu(h)
    return h


def flatten(W: Layers) -> torch.Tensor:
    """The weight vector A = [vec(A_1); ...; vec(A_d)] of each model (Def 23): (M, P)."""
    return torch.cat([Wl.reshape(Wl.shape[0], -1) for Wl in W], dim=1)


def unflatten(flat: torch.Tensor, shapes: Sequence[tuple[int, int]]) -> Layers:
    """Inverse of :func:`flatten`: (M, P) -> layers (M, out_l, in_l)."""
    P = sum(o * i for o, i in shapes)
    if flat.ndim != 2 or flat.shape[1] != P:
        raise ValueError(f"flat has shape {tuple(flat.shape)}; accepted: (M, {P}) for shapes {list(shapes)}")
    out, k = [], 0
    for o, i in shapes:
        out.append(flat[:, k:k + o * i].reshape(-1, o, i))
        k += o * i
    return out


def minibatch_indices(M: int, m: int, batch: int, epochs: int, *, generator: torch.Generator) -> list[torch.Tensor]:
    """A fresh random mini-batch sequence per model: a list of index tensors (M, b_s), one per step.

    Each epoch is an independent permutation of the m training points per model; the last batch of an epoch is
    the remainder when ``batch`` does not divide ``m`` (Keras' behaviour). §6.4 trains with batch 300 (CIFAR) or 100
    (synthetic); "fresh sequence per cluster net" is the resolution of the unstated choice (the seed "changes ... the
    mini-batch sequence", L3495).
    """
    if batch < 1 or epochs < 0 or m < 1:
        raise ValueError(f"batch={batch}, epochs={epochs}, m={m}: accepted values are batch >= 1, epochs >= 0, m >= 1")
    dev = generator.device
    steps = []
    for _ in range(epochs):
        perm = torch.argsort(torch.rand(M, m, generator=generator, device=dev), dim=1)
        for s in range(0, m, batch):
            steps.append(perm[:, s:s + batch])
    return steps


def train_adam(W0: Layers, X: torch.Tensor, y: torch.Tensor, steps: Sequence[torch.Tensor], *,
               lr: float = 1e-3) -> Layers:
    """Train M stacked nets with ADAM (torch defaults, betas (0.9, 0.999), eps 1e-8) on the mean cross-entropy.

    ``W0``: layers (M, out_l, in_l) (not modified); ``X``: (m, n); ``y``: (m,) int64; ``steps``: from
    :func:`minibatch_indices`, each (M, b). Model j sees only the rows ``steps[s][j]``. Returns new layers.
    """
    if lr <= 0:
        raise ValueError(f"lr={lr}: accepted values are > 0")
    W = [w.detach().clone().requires_grad_(True) for w in W0]
    opt = torch.optim.Adam(W, lr=lr)
    k = W[-1].shape[1]
    for idx in steps:
        xb, yb = X[idx], y[idx]  # (M, b, n), (M, b)
        logits = forward(W, xb)
        loss = F.cross_entropy(logits.reshape(-1, k), yb.reshape(-1), reduction="sum") / idx.shape[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return [w.detach() for w in W]


def train_adam_loop(W0: Layers, X: torch.Tensor, y: torch.Tensor, steps: Sequence[torch.Tensor], *,
                    lr: float = 1e-3) -> Layers:
    """Reference: the same training as :func:`train_adam`, one ``nn.Sequential`` + ``torch.optim.Adam`` per model.

    What a user would otherwise write; used by the tests (exact agreement) and ``bench/bench_pac_bayes.py``.
    """
    M = W0[0].shape[0]
    outs: list[list[torch.Tensor]] = [[] for _ in W0]
    for j in range(M):
        mods: list[torch.nn.Module] = []
        for l, w in enumerate(W0):
            lin = torch.nn.Linear(w.shape[2], w.shape[1], bias=False, device=w.device, dtype=w.dtype)
            with torch.no_grad():
                lin.weight.copy_(w[j])
            mods.append(lin)
            if l < len(W0) - 1:
                mods.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*mods)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for idx in steps:
            loss = F.cross_entropy(net(X[idx[j]]), y[idx[j]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for l, lin in enumerate(m for m in net if isinstance(m, torch.nn.Linear)):
            outs[l].append(lin.weight.detach())
    return [torch.stack(o) for o in outs]


@torch.no_grad()
def accuracy(W: Layers, X: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Classification accuracy of each of the M nets on (X, y): (M,)."""
    correct = torch.zeros(W[0].shape[0], device=W[0].device)
    for s in range(0, X.shape[0], chunk):
        correct += (forward(W, X[s:s + chunk]).argmax(-1) == y[s:s + chunk]).float().sum(-1)
    return correct / X.shape[0]


# ------------------------------------------------------------------------------------------------ geometry
def angle(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """alpha = arccos(<A, B> / (||A|| ||B||)) (Theorem 6.3.1, L3457), clipped to [-1, 1]. A, B: (..., P) -> (...)."""
    c = (A * B).sum(-1) / (A.norm(dim=-1) * B.norm(dim=-1))
    return torch.arccos(c.clamp(-1.0, 1.0))


def cone_cluster(B: torch.Tensor, theta: torch.Tensor, k1: int, *, generator: torch.Generator,
                 placement: str = "boundary") -> torch.Tensor:
    """The initial cluster B_{lambda*, j}: k1 vectors of norm ||B|| within the cone of half-angle theta about B.

    ``B``: (T, P); ``theta``: (T,) radians -> (T, k1, P). B_j = ||B|| (cos t_j B/||B|| + sin t_j u_j) with u_j a
    uniformly random unit vector orthogonal to B. Theorem 6.3.1 and Definition 26 (L3436) say only "within a conical
    half-angle of 0.01 lambda around B" with the same norm; resolution (the thesis leaves the angles unstated):
    ``placement="boundary"`` puts every B_j on the cone (t_j = theta, the default), ``"uniform"`` draws
    t_j ~ U[0, theta].
    """
    if placement not in ("boundary", "uniform"):
        raise ValueError(f"placement={placement!r}: accepted values are 'boundary', 'uniform'")
    if k1 < 1:
        raise ValueError(f"k1={k1}: accepted values are integers >= 1")
    T, P = B.shape
    bhat = B / B.norm(dim=1, keepdim=True)  # (T, P)
    u = torch.randn(T, k1, P, generator=generator, device=B.device, dtype=B.dtype)
    u = u - (u * bhat[:, None]).sum(-1, keepdim=True) * bhat[:, None]
    u = u / u.norm(dim=-1, keepdim=True)
    t = theta[:, None].expand(T, k1)
    if placement == "uniform":
        t = t * torch.rand(T, k1, generator=generator, device=B.device, dtype=B.dtype)
    nb = B.norm(dim=1)[:, None, None]
    return nb * (torch.cos(t)[..., None] * bhat[:, None] + torch.sin(t)[..., None] * u)


def spectral_norms(W: Layers) -> torch.Tensor:
    """||A_l||_2 of every layer of every model: (M, d) (largest singular value, torch.linalg.matrix_norm ord=2)."""
    return torch.stack([torch.linalg.matrix_norm(w, ord=2) for w in W], dim=-1)


def frobenius_sq(W: Layers) -> torch.Tensor:
    """sum_l ||A_l||_F^2 = ||A||_2^2 of each model: (M,)."""
    return sum((w ** 2).sum(dim=(-1, -2)) for w in W)


def niceness(fA: torch.Tensor, fAi: torch.Tensor, *, slack: float = 1e-9) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest (epsilon, gamma) for which S is (epsilon, gamma)-nice w.r.t. {A, A_i} (Definition 25, L3425).

    ``fA``: (T, m, k) outputs of f_A on S; ``fAi``: (T, k1, m, k) outputs of the cluster nets f_{A_i}.
    epsilon = max_{i, x} ||f_{A_i}(x) - f_A(x)|| / ||f_A(x)||  (condition 1), and gamma must be *strictly* larger
    than epsilon max_x ||f_A(x)|| (condition 2): gamma = (1 + slack) epsilon max_x ||f_A(x)||. Returns (T,), (T,).
    """
    nA = fA.norm(dim=-1)  # (T, m)
    rel = (fAi - fA[:, None]).norm(dim=-1) / nA[:, None]  # (T, k1, m)
    eps = rel.amax(dim=(1, 2))
    gamma = (1.0 + slack) * eps * nA.amax(dim=1)
    return eps, gamma


def rebalance(W: Layers) -> Layers:
    """The same function with every layer's spectral norm equal to beta = (prod_l ||A_l||_2)^(1/d).

    For bias-free ReLU nets f is invariant under A_l -> c_l A_l with prod c_l = 1 (positive homogeneity); the
    proofs of Theorem 6.2.1 (L3644) and 6.1.3 (L3918) use this rescaling "without loss of generality".
    """
    s = spectral_norms(W)  # (M, d)
    beta = s.log().mean(-1).exp()  # (M,)
    return [w * (beta / s[:, l])[:, None, None] for l, w in enumerate(W)]
