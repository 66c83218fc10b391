"""Least squares for lifted polynomial regression: bagged min-norm (dual) and exact streamed.

Used by the chapter ``polynomial_regression`` (thesis 000, Ch. 3, Sections 3.4.3-3.4.4).

* :func:`min_norm_dual` -- minimum-norm interpolating least squares through the B x B Gram matrix,
  batched over G problems: ``beta = X^T (X X^T + lam I)^{-1} Y`` (eq. 3.14 with B < p).
* :func:`bagged_least_squares` -- "batched linear regression" (eqs. 3.14-3.16): N_B bags of B rows,
  one min-norm fit per bag, bags solved in groups with ``bmm``; :func:`running_average` gives
  ``beta_avg_b`` of eq. 3.16 for every b at once.
* :func:`streamed_normal_equations` + :func:`solve_normal_equations` -- "exact" least squares
  (eq. 3.9) on all rows, with ``X^T X`` accumulated in row chunks (the lifted X is never held) and
  solved by a rank-revealing eigendecomposition (min-norm = pseudo-inverse solution) or, to mimic a
  plain inverse, by LU.
* One-vs-all helpers: :func:`one_hot`, :func:`predict_scores`, :func:`accuracy`.

Device and dtype follow the inputs; no global seeds (explicit ``torch.Generator``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

LiftFn = Callable[[torch.Tensor], torch.Tensor]


def one_hot(y: torch.Tensor, n_classes: int = 10, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """0/1 one-vs-all targets: y (n,) int -> (n, n_classes)."""
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class indices, got shape {tuple(y.shape)}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    return torch.nn.functional.one_hot(y.long(), n_classes).to(dtype)


def predict_scores(F: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Scores of lifted rows F: (n, p) under beta: (p, c) or (G, p, c) -> (n, c) or (G, n, c)."""
    if beta.ndim == 2:
        return F @ beta.to(F.dtype)
    if beta.ndim == 3:
        return torch.einsum("np,gpc->gnc", F, beta.to(F.dtype))
    raise ValueError(f"beta must be (p, c) or (G, p, c), got shape {tuple(beta.shape)}")


def accuracy(F: torch.Tensor, beta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Argmax accuracy of beta: (p, c) -> scalar, or (G, p, c) -> (G,)."""
    s = predict_scores(F, beta)
    return (s.argmax(-1) == y.to(s.device)).to(torch.float64).mean(-1)


def row_gram_lower(X: torch.Tensor) -> torch.Tensor:
    """X X^T per problem, X: (G, B, p) -> (G, B, B) in X's dtype, valid in the LOWER triangle (the strict upper
    triangle is unspecified). On the CPU in float32/float64 this is one BLAS ``syrk`` per problem (half the flops
    of ``bmm``, measured 2x faster at B = 2,000, p = 10,155); elsewhere ``bmm``."""
    if X.device.type != "cpu" or X.dtype not in (torch.float32, torch.float64) or X.requires_grad:
        return torch.bmm(X, X.transpose(1, 2))
    from scipy.linalg.blas import dsyrk, ssyrk

    syrk = ssyrk if X.dtype == torch.float32 else dsyrk
    out = torch.empty((X.shape[0], X.shape[1], X.shape[1]), dtype=X.dtype)
    for g in range(X.shape[0]):
        Xn = X[g].contiguous().numpy()                 # (B, p) C-order = (p, B) Fortran-order view Xn.T
        Kn = syrk(1.0, Xn.T, trans=1, lower=1)         # (Xn.T)^T (Xn.T) = Xn Xn^T, lower triangle, Fortran order
        out[g] = torch.from_numpy(Kn)
    return out


def min_norm_dual(
    X: torch.Tensor,
    Y: torch.Tensor,
    rel_jitter: float = 1e-7,
    solve_dtype: torch.dtype = torch.float64,
    intercept_col: int | None = None,
) -> torch.Tensor:
    """Minimum-norm solutions of G underdetermined least-squares problems through the dual.

    X: (G, B, p), Y: (G, B, c) -> beta: (G, p, c), with ``beta = X^T alpha`` and
    ``(X X^T + lam I) alpha = Y``, ``lam = rel_jitter * trace(X X^T) / B`` (a stabiliser for a Gram
    matrix formed in float32; with rel_jitter -> 0 and full row rank this is the pseudo-inverse
    solution ``pinv(X) Y``). The Gram is formed in X's dtype (``bmm``), factorised by Cholesky in
    ``solve_dtype``; cost per problem B^2 p + B^3/3 instead of the primal's p^2 B.

    ``intercept_col``: index of a constant column of X whose coefficient is *not* penalised (as in
    scikit-learn's ``LinearRegression``): the problem is centred over the B rows, solved min-norm, and the
    intercept set to ``mean(Y) - mean(X) beta``. ``None``: plain min-norm over all columns.
    """
    if X.ndim != 3 or Y.ndim != 3 or X.shape[:2] != Y.shape[:2]:
        raise ValueError(
            f"X must be (G, B, p) and Y (G, B, c) with matching G, B; got {tuple(X.shape)}, {tuple(Y.shape)}"
        )
    if rel_jitter < 0:
        raise ValueError(f"rel_jitter must be >= 0, got {rel_jitter}")
    if intercept_col is not None:
        mx, my = X.mean(1, keepdim=True), Y.mean(1, keepdim=True)
        beta = min_norm_dual(X - mx, Y - my, rel_jitter, solve_dtype, None)
        beta[:, intercept_col, :] = 0
        beta[:, intercept_col, :] = (my - torch.bmm(mx, beta.to(mx.dtype)))[:, 0, :].to(beta.dtype)
        return beta
    K = row_gram_lower(X).to(solve_dtype)
    B = K.shape[-1]
    tr = K.diagonal(dim1=1, dim2=2).sum(-1)
    lam = (rel_jitter * tr / B).clamp(min=torch.finfo(solve_dtype).tiny)
    K = K + lam[:, None, None] * torch.eye(B, dtype=solve_dtype, device=K.device)
    L, info = torch.linalg.cholesky_ex(K)          # reads the lower triangle only
    if bool((info != 0).any()):  # fall back to a pseudo-inverse for the failing problems
        K = torch.tril(K) + torch.tril(K, -1).transpose(1, 2)
        alpha = torch.linalg.pinv(K, hermitian=True) @ Y.to(solve_dtype)
    else:
        alpha = torch.cholesky_solve(Y.to(solve_dtype), L)
    return torch.bmm(X.transpose(1, 2), alpha.to(X.dtype))


def draw_bags(n: int, n_bags: int, bag_size: int, generator: torch.Generator) -> torch.Tensor:
    """Row indices of N_B bags, each B distinct rows, bags independent: (N_B, B) long."""
    if not 1 <= bag_size <= n:
        raise ValueError(f"bag_size must be in [1, n={n}], got {bag_size}")
    if n_bags < 1:
        raise ValueError(f"n_bags must be >= 1, got {n_bags}")
    keys = torch.rand((n_bags, n), generator=generator, device=generator.device)
    return keys.argsort(dim=1)[:, :bag_size].cpu()


@dataclass
class BaggedFit:
    """Result of :func:`bagged_least_squares`. betas: (N_B, p, c); bags: (N_B, B) row indices."""

    betas: torch.Tensor
    bags: torch.Tensor
    seconds: float
    seconds_per_bag: float = field(init=False)

    def __post_init__(self) -> None:
        self.seconds_per_bag = self.seconds / self.betas.shape[0]

    @property
    def beta(self) -> torch.Tensor:
        """The bagged estimator beta_hat = mean of all bags (eq. 3.16 at b = N_B): (p, c)."""
        return self.betas.mean(0)


def bagged_least_squares(
    X: torch.Tensor,
    Y: torch.Tensor,
    lift_fn: LiftFn,
    n_bags: int,
    bag_size: int,
    generator: torch.Generator,
    bags_per_group: int = 4,
    rel_jitter: float = 1e-7,
    intercept_col: int | None = None,
) -> BaggedFit:
    """Batched linear regression (eqs. 3.14-3.16): one min-norm fit per bag of raw rows.

    X: (n, ...) raw inputs (e.g. uint8 images), Y: (n, c) targets, ``lift_fn`` maps raw rows (m, ...)
    to lifted rows (m, p). Bags are lifted and solved ``bags_per_group`` at a time as one batched
    problem (memory: bags_per_group * B * p floats). Returns all per-bag betas. ``intercept_col``: see
    :func:`min_norm_dual` (unpenalised intercept).
    """
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    if bags_per_group < 1:
        raise ValueError(f"bags_per_group must be >= 1, got {bags_per_group}")
    bags = draw_bags(X.shape[0], n_bags, bag_size, generator)
    t0 = time.perf_counter()
    out = []
    for g in range(0, n_bags, bags_per_group):
        idx = bags[g : g + bags_per_group]
        F = lift_fn(X[idx.reshape(-1).to(X.device)])
        F = F.reshape(idx.shape[0], bag_size, -1)
        Yg = Y[idx.reshape(-1).to(Y.device)].reshape(idx.shape[0], bag_size, -1).to(F.dtype)
        out.append(min_norm_dual(F, Yg, rel_jitter=rel_jitter, intercept_col=intercept_col))
    betas = torch.cat(out, 0)
    return BaggedFit(betas=betas, bags=bags, seconds=time.perf_counter() - t0)


def running_average(betas: torch.Tensor) -> torch.Tensor:
    """beta_avg_b = (1/b) sum_{i<=b} beta_i for every b (eq. 3.16): (N_B, ...) -> (N_B, ...)."""
    shape = (-1,) + (1,) * (betas.ndim - 1)
    b = torch.arange(1, betas.shape[0] + 1, dtype=betas.dtype, device=betas.device).reshape(shape)
    return betas.cumsum(0) / b


@dataclass
class NormalEquations:
    """Accumulated ``XtX``: (p, p), ``XtY``: (p, c), ``n`` rows, ``yty``: (c,) and timing."""

    XtX: torch.Tensor
    XtY: torch.Tensor
    n: int
    yty: torch.Tensor
    seconds: float


def streamed_normal_equations(
    chunks: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lift_fn: LiftFn,
    acc_dtype: torch.dtype = torch.float64,
    *,
    syrk: bool = False,
) -> NormalEquations:
    """Accumulate X^T X and X^T Y over (raw rows, targets) chunks; the lifted X is never stored.

    Each chunk is lifted (``lift_fn``), cast to ``acc_dtype`` and added with ``addmm``, or with one symmetric
    rank-k product per chunk when ``syrk`` (float64 only: half the flops; ``XtX`` symmetrised at the end);
    memory is O(p^2 + chunk * p).
    """
    if syrk and acc_dtype != torch.float64:
        raise ValueError(f"acc_dtype={acc_dtype}: syrk=True accepts torch.float64 only")
    t0 = time.perf_counter()
    XtX = XtY = yty = None
    n = 0
    for Xc, Yc in chunks:
        F = lift_fn(Xc).to(acc_dtype)
        Yc = Yc.to(device=F.device, dtype=acc_dtype)
        if XtX is None:
            p, c = F.shape[1], Yc.shape[1]
            XtX = torch.zeros((p, p), dtype=acc_dtype, device=F.device)
            XtY = torch.zeros((p, c), dtype=acc_dtype, device=F.device)
            yty = torch.zeros((c,), dtype=acc_dtype, device=F.device)
        if syrk:
            _syrk_update(XtX, F)
        else:
            XtX.addmm_(F.T, F)
        XtY.addmm_(F.T, Yc)
        yty += (Yc * Yc).sum(0)
        n += F.shape[0]
        del F
    if XtX is None:
        raise ValueError("chunks must yield at least one (X, Y) chunk")
    if syrk and XtX.device.type == "cpu":        # dsyrk filled the upper triangle; the lower is still 0
        XtX.add_(torch.triu(XtX, 1).T)            # full symmetric matrix, one (p, p) temporary
    return NormalEquations(XtX=XtX, XtY=XtY, n=n, yty=yty, seconds=time.perf_counter() - t0)


@dataclass
class ExactSolution:
    """beta: (p, c); rank and condition number of X^T X (eigh solver); solver name; seconds."""

    beta: torch.Tensor
    solver: str
    rank: int
    cond: float
    seconds: float


def _eigh_lean(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric A (p, p). On the CPU in float64: LAPACK ``syevr``
    through scipy (O(p) workspace; ``torch.linalg.eigh``'s ``syevd`` needs about 2 p^2 more, 1.65 GB at
    p = 10,155); elsewhere ``torch.linalg.eigh``. A is not modified."""
    if A.device.type != "cpu" or A.dtype != torch.float64:
        return torch.linalg.eigh(A)
    import scipy.linalg

    w, Z = scipy.linalg.eigh(A.numpy(), driver="evr", check_finite=False)
    return torch.from_numpy(w), torch.from_numpy(Z)


def solve_normal_equations(ne: NormalEquations, solver: str = "eigh", rcond: float | None = None) -> ExactSolution:
    """Solve X^T X beta = X^T Y (eq. 3.9).

    ``solver="eigh"``: rank-revealing: eigenvalues below ``rcond * lambda_max`` are dropped, giving the
    minimum-norm (pseudo-inverse) solution. Default rcond = p * eps(float64) on the *squared* system,
    i.e. singular values of X below ~sqrt(rcond) relative are treated as zero.
    ``solver="lu"``: ``torch.linalg.solve`` as a plain "inverse" would do (eq. 3.9 literally); on a
    singular X^T X its result is dominated by round-off (the thesis's 1e9-scale coefficients, Table 3.7).
    """
    if solver not in ("eigh", "lu"):
        raise ValueError(f"solver must be 'eigh' or 'lu', got {solver!r}")
    A = ne.XtX
    p = A.shape[0]
    t0 = time.perf_counter()
    evals = torch.linalg.eigvalsh(A) if solver == "lu" else None
    if solver == "eigh":
        evals, V = _eigh_lean(A)
        tol = (rcond if rcond is not None else p * torch.finfo(A.dtype).eps) * float(evals.max())
        keep = evals > tol
        inv = torch.where(keep, 1.0 / evals.clamp(min=tol), torch.zeros_like(evals))
        beta = V @ (inv[:, None] * (V.T @ ne.XtY))
        rank = int(keep.sum())
        lam_min = float(evals[keep].min())
    else:
        beta = torch.linalg.solve(A, ne.XtY)
        tol = p * torch.finfo(A.dtype).eps * float(evals.max())
        rank = int((evals > tol).sum())
        lam_min = float(evals.clamp(min=0).min())
    cond = float(evals.max()) / lam_min if lam_min > 0 else math.inf
    return ExactSolution(beta=beta, solver=solver, rank=rank, cond=cond, seconds=time.perf_counter() - t0)


def iter_chunks(X: torch.Tensor, Y: torch.Tensor, chunk_rows: int):
    """Yield (X[s:e], Y[s:e]) row chunks (for :func:`streamed_normal_equations`)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    for s in range(0, X.shape[0], chunk_rows):
        yield X[s : s + chunk_rows], Y[s : s + chunk_rows]


def coefficient_scales(beta: torch.Tensor) -> tuple[float, float]:
    """Table 3.7 statistics over all coefficients pooled: L1 = mean|x - median x| (eq. 3.17) and
    L2 = population standard deviation (eq. 3.18)."""
    x = beta.reshape(-1).to(torch.float64)
    med = x.median()
    return float((x - med).abs().mean()), float(x.std(correction=0))


def scores_streamed(X: torch.Tensor, beta: torch.Tensor, lift_fn: LiftFn, chunk_rows: int = 2048) -> torch.Tensor:
    """Scores of raw rows X: (n, ...) under beta (p, c) or (G, p, c), lifting ``chunk_rows`` rows at a time
    (the lifted test set is never held): -> (n, c) or (G, n, c)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    out = [predict_scores(lift_fn(X[s : s + chunk_rows]), beta) for s in range(0, X.shape[0], chunk_rows)]
    return torch.cat(out, dim=-2)


def accuracy_streamed(X: torch.Tensor, y: torch.Tensor, beta: torch.Tensor, lift_fn: LiftFn,
                      chunk_rows: int = 2048) -> torch.Tensor:
    """Argmax accuracy of beta on raw rows X (lifted in chunks): scalar, or (G,) for a stack of betas."""
    s = scores_streamed(X, beta, lift_fn, chunk_rows)
    return (s.argmax(-1) == y.to(s.device)).to(torch.float64).mean(-1)


@dataclass
class EighPath:
    """Min-norm solutions of one normal-equation system for several eigenvalue cutoffs.

    evals: (p,) ascending eigenvalues of X^T X; rconds: the relative cutoffs; betas: (R, p, c); ranks: (R,).
    """

    evals: torch.Tensor
    rconds: list[float]
    betas: torch.Tensor
    ranks: list[int]
    seconds: float


def eigh_path(ne: NormalEquations, rconds: list[float]) -> EighPath:
    """One eigendecomposition of X^T X, then ``beta(r) = sum_{lambda_i > r lambda_max} v_i v_i^T X^T Y / lambda_i``
    for every cutoff r: how the "exact" least-squares coefficients depend on the solver's cutoff (Table 3.7).
    Each beta(r) is the minimum-norm solution of the problem with the directions below the cutoff removed."""
    if not rconds or any(r <= 0 for r in rconds):
        raise ValueError(f"rconds must be a non-empty list of positive cutoffs, got {rconds}")
    t0 = time.perf_counter()
    evals, V = _eigh_lean(ne.XtX)
    Z = V.T @ ne.XtY
    lam_max = float(evals.max())
    betas, ranks = [], []
    for r in rconds:
        keep = evals > r * lam_max
        betas.append(V[:, keep] @ (Z[keep] / evals[keep, None]))
        ranks.append(int(keep.sum()))
    return EighPath(evals=evals, rconds=list(rconds), betas=torch.stack(betas), ranks=ranks,
                    seconds=time.perf_counter() - t0)


def _syrk_update(G: torch.Tensor, F: torch.Tensor) -> None:
    """G += F^T F in place, one symmetric rank-k product (BLAS ``dsyrk``: half the flops of a general
    product), filling the upper triangle of ``G`` only. G: (p, p) float64 contiguous, F: (n, p) float64.
    On CPU float64 calls scipy's ``dsyrk`` on views (no copy); elsewhere falls back to ``addmm``."""
    if G.device.type == "cpu" and G.dtype == torch.float64 and F.dtype == torch.float64:
        import numpy as np
        from scipy.linalg.blas import dsyrk
        Fn = F.contiguous().numpy()                       # (n, p) C-order == (p, n) Fortran-order view of F^T
        Gn = G.numpy()                                    # (p, p) C-order; its transpose is Fortran-order
        out = dsyrk(1.0, Fn.T, beta=1.0, c=Gn.T, trans=0, lower=1, overwrite_c=1)   # (F^T)(F^T)^T = F^T F
        if not np.shares_memory(out, Gn):                        # pragma: no cover
            Gn[...] = out.T
    else:
        G.addmm_(F.T, F)


def streamed_gram(
    chunks: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lift_fn: LiftFn,
) -> NormalEquations:
    """:func:`streamed_normal_equations` (eq. 3.9 of thesis 000, L1060) in float64 with one symmetric rank-k
    product (``syrk``) per chunk, i.e. half the flops of ``addmm``; the returned ``XtX`` is symmetric.
    Memory: one (p, p) float64 matrix plus one lifted chunk."""
    return streamed_normal_equations(chunks, lift_fn, torch.float64, syrk=True)


@dataclass
class MinNormSolution:
    """beta: (p, c); ``solver`` "cholesky" (X^T X positive definite) or "eigh" (rank-deficient fallback);
    ``rank``; ``lam_min_est`` / ``lam_max_est``: estimated extreme eigenvalues of X^T X (for Cholesky from the
    factor, see :func:`solve_min_norm`); ``cond_est``; ``seconds``."""

    beta: torch.Tensor
    solver: str
    rank: int
    lam_min_est: float
    lam_max_est: float
    cond_est: float
    seconds: float


def solve_min_norm(ne: NormalEquations, rcond: float | None = None, margin: float = 10.0,
                   iters: int = 30, generator: torch.Generator | None = None,
                   fallback: bool = True) -> MinNormSolution | None:
    """Minimum-norm solution of X^T X beta = X^T Y (thesis 000, eq. 3.9): Cholesky when X^T X is safely
    positive definite, the eigendecomposition (as :func:`solve_normal_equations`) only when it is not.

    Exactly-zero columns of X (a pixel never lit: zero diagonal of X^T X) are exact null directions; the
    min-norm solution gives them 0, so they are removed first. On the rest, the eigendecomposition would keep
    eigenvalues above ``tol = rcond * lambda_max`` (default rcond = p * eps(float64), the cutoff of
    :func:`solve_normal_equations`). When every eigenvalue is above ``tol`` its pseudo-inverse *is* the inverse,
    so Cholesky gives the same beta at ~1/6 of the flops of ``eigh``. Decision: Cholesky must succeed (all
    pivots positive), and the estimated smallest eigenvalue must exceed ``margin * tol``: lambda_min is
    estimated by ``iters`` steps of inverse iteration with the factor (two triangular solves each, O(p^2)),
    lambda_max by power iteration; both are Rayleigh quotients, so the cutoff is judged on estimates, and the
    ``margin`` (10x) absorbs their error. Otherwise: ``eigh`` with the same cutoff, or ``None`` when
    ``fallback=False`` (the caller diagonalises anyway, e.g. :func:`eigh_path`, see :func:`min_norm_from_path`).
    """
    t0 = time.perf_counter()
    p_all = ne.XtX.shape[0]
    active = ne.XtX.diagonal() > 0                                   # (p,) columns that are not identically zero
    all_active = bool(active.all())
    A, B = (ne.XtX, ne.XtY) if all_active else (ne.XtX[active][:, active], ne.XtY[active])   # no copy when none is 0
    p = A.shape[0]
    r = rcond if rcond is not None else p_all * torch.finfo(A.dtype).eps
    g = generator if generator is not None else torch.Generator(device=A.device).manual_seed(0)
    v = torch.randn(p, 1, dtype=A.dtype, device=A.device, generator=g)
    for _ in range(iters):                                           # power iteration: lambda_max
        v = A @ v
        v = v / v.norm()
    lam_max = float((v.T @ A @ v).squeeze())
    beta = torch.zeros_like(ne.XtY)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0 and bool(torch.isfinite(L.diagonal()).all()):
        u = torch.randn(p, 1, dtype=A.dtype, device=A.device, generator=g)
        for _ in range(iters):                                       # inverse iteration: lambda_min
            u = torch.cholesky_solve(u, L)
            u = u / u.norm()
        lam_min = float((u.T @ A @ u).squeeze())
        if lam_min > margin * r * lam_max:
            beta[active] = torch.cholesky_solve(B, L)
            return MinNormSolution(beta=beta, solver="cholesky", rank=p, lam_min_est=lam_min, lam_max_est=lam_max,
                                   cond_est=lam_max / lam_min, seconds=time.perf_counter() - t0)
    del L
    if not fallback:
        return None
    sol = solve_normal_equations(NormalEquations(XtX=A, XtY=B, n=ne.n, yty=ne.yty, seconds=0.0), "eigh",
                                 rcond=r * p_all / p if rcond is None else r)
    beta[active] = sol.beta
    return MinNormSolution(beta=beta, solver="eigh", rank=sol.rank, lam_min_est=float(lam_max / sol.cond),
                           lam_max_est=lam_max, cond_est=sol.cond, seconds=time.perf_counter() - t0)


def plain_inverse_solution(ne: NormalEquations) -> torch.Tensor | None:
    """Eq. 3.9 of thesis 000 taken literally, ``beta = (X^T X)^{-1} X^T Y`` by an LU solve, after removing the
    exactly-zero columns (given coefficient 0): the answer of a solver that does not look for a null space.
    On a numerically singular X^T X it returns *a* least-squares solution whose null-space component is set by
    round-off (Table 3.7's scale); ``None`` when LU finds the matrix exactly singular. beta: (p, c)."""
    active = ne.XtX.diagonal() > 0
    beta = torch.zeros_like(ne.XtY)
    try:
        beta[active] = torch.linalg.solve(ne.XtX[active][:, active], ne.XtY[active])
    except RuntimeError:                                             # torch.linalg.LinAlgError: exactly singular
        return None
    return beta


def min_norm_from_path(path: EighPath, index: int = -1) -> MinNormSolution:
    """The min-norm solution at ``path.rconds[index]`` as a :class:`MinNormSolution` (solver "eigh"), so that a
    caller that needs the cutoff path does not diagonalise twice."""
    lam = path.evals
    kept = lam[lam > path.rconds[index] * float(lam.max())]
    return MinNormSolution(beta=path.betas[index], solver="eigh", rank=path.ranks[index], lam_min_est=float(kept.min()),
                           lam_max_est=float(lam.max()), cond_est=float(lam.max() / kept.min()), seconds=path.seconds)
