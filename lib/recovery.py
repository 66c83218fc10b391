"""Teacher recovery and sample complexity: the thesis's Algorithms 1–4 (document 000, §2.3–2.4), batched.

A *problem* is one teacher network W* (with its own d and m).  A sweep over d or m with K teachers per value
is a list of problems, padded to a common ``(d_max, m_max)`` (zero rows/columns are exact no-ops, see
lib/teacher_student.py) so that all problems × T restarts train in one call of
:func:`lib.teacher_student.train`, each model on its own data set and its own sample size (masks).

- Algorithm 1 ``training_procedure`` -> :meth:`TeacherSweep.evaluate`: draw N train points per teacher, train
  T fresh students, return their final normalised test losses 1 - R^2 (eq. 2.9).
- Algorithm 2 ``sample_complexity`` -> :func:`sample_complexity`: doubling N = 1, 2, 4, ... until the
  fraction of restarts with loss < L reaches p_recovery; p-hat initialised to 0 (the printed algorithm never
  initialises it) and a cap ``n_max`` (returns inf).  All problems double together, so each round is one
  batched call over the problems that are still running.
- Algorithm 3 ``recovery_r2`` -> :func:`recovery_r2`: mean test R^2 over the T restarts at fixed N.
- Algorithm 4 ``sample_complexity_dichotomy`` -> :func:`sample_complexity_dichotomy`: Algorithm 2, then
  ``depth`` bisection steps in [N_high/2, N_high].  Typo fixes: N_low <- floor(N_high / 2), not
  floor(N_low / 2); the extra argument L of the inner call is dropped.

Thresholds: success means test R^2 >= 0.95, i.e. normalised loss < L = 0.05 ("L = 0.95" in the
thesis text is the R^2 threshold, not the loss threshold).

Used by book/sample_complexity.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lib import teacher_student as ts
from lib.grid import Grid

__all__ = [
    "Recipe",
    "TeacherSweep",
    "recovery_grid",
    "recovery_r2",
    "sample_complexity",
    "sample_complexity_dichotomy",
]


@dataclass(frozen=True)
class Recipe:
    """How Algorithm 1 trains a student.  ``Recipe.thesis()`` is the printed one (L523): full-batch GD on the
    mean loss, eta = 5e-3, E = 300; it does not train (shown in the chapter)."""

    optimizer: str = "adam"
    lr: float = 0.02
    epochs: int = 300
    reduction: str = "mean"

    @classmethod
    def thesis(cls) -> Recipe:
        return cls(optimizer="gd", lr=5e-3, epochs=300, reduction="mean")

    def label(self) -> str:
        loss = "mean" if self.reduction == "mean" else "sum"
        return f"{'Adam' if self.optimizer == 'adam' else 'GD'} lr={self.lr:g}, E={self.epochs}, {loss} loss"


@dataclass
class TeacherSweep:
    """P teacher problems, possibly of different (d, m), evaluated together.

    Attributes: teachers (P, d_max, m_max) zero-padded; d, m: (P,) int64; T restarts per call; L threshold on
    the normalised test loss; n_test: test-set size per call (None = N, as in Algorithm 1); max_elems: bound
    on K * N * T * m per training call (memory; default 2e7 on CPU, 4e8 on CUDA), problems are chunked to
    respect it; problems share a call only when they have the same width m and their N are within the factor
    pad_ratio (padded to the largest N, with masks); different d share a call (zero-padded inputs).
    """

    teachers: Tensor
    d: Tensor
    m: Tensor
    T: int
    recipe: Recipe
    generator: torch.Generator
    L: float = 0.05
    n_test: int | None = 1000
    max_elems: int | None = None
    pad_ratio: float = 1.5
    calls: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_elems is None:
            self.max_elems = 400_000_000 if self.teachers.device.type == "cuda" else 20_000_000

    @classmethod
    def draw(cls, dims: list[tuple[int, int]], K: int, T: int, recipe: Recipe, *, generator: torch.Generator,
             dist: str = "uniform", **kw) -> TeacherSweep:
        """K independent teachers for each (d, m) in ``dims``; problem index = config * K + k."""
        if not dims:
            raise ValueError("dims must list at least one (d, m) pair")
        for d, m in dims:
            if d <= 0 or m <= 0:
                raise ValueError(f"every (d, m) must be positive, got {(d, m)}")
        if K <= 0 or T <= 0:
            raise ValueError(f"K and T must be positive, got K={K}, T={T}")
        dev = generator.device
        d_max = max(d for d, _ in dims)
        m_max = max(m for _, m in dims)
        dv = torch.tensor([d for d, _ in dims for _ in range(K)], device=dev)
        mv = torch.tensor([m for _, m in dims for _ in range(K)], device=dev)
        W = ts.sample_students(len(dv), d_max, m_max, dv, mv, generator=generator, dist=dist)
        return cls(teachers=W, d=dv, m=mv, T=T, recipe=recipe, generator=generator, **kw)

    @property
    def P(self) -> int:
        return self.teachers.shape[0]

    def _data(self, idx: Tensor, n: int, dvec: Tensor, d_max: int) -> tuple[Tensor, Tensor]:
        """Gaussian inputs (A, n, d_max) with the padded coordinates zeroed, and teacher labels (A, n)."""
        A = idx.shape[0]
        X = ts.gaussian_inputs(A, n, d_max, generator=self.generator)
        X = X * (torch.arange(d_max, device=X.device).view(1, 1, -1) < dvec.view(-1, 1, 1))
        Wt = self.teachers[idx][:, :d_max]
        scale = 1.0 / self.m[idx].to(X.dtype).sqrt()
        Y = ts._readout(ts._preact(Wt, X, 1).clamp_min(0), scale, 1)
        return X, Y

    def evaluate(self, idx: Tensor, N: Tensor) -> Tensor:
        """Algorithm 1 for problems ``idx`` (A,) at sample sizes ``N`` (A,): normalised test losses (A, T)."""
        idx = torch.as_tensor(idx, device=self.teachers.device).long().view(-1)
        N = torch.as_tensor(N, device=self.teachers.device).long().view(-1)
        if idx.shape != N.shape:
            raise ValueError("idx and N must have the same length")
        if idx.numel() == 0:
            return torch.empty(0, self.T, device=self.teachers.device)
        if (N < 1).any():
            raise ValueError("every N must be >= 1")
        out = torch.empty(idx.shape[0], self.T, device=self.teachers.device)
        # chunk by width first (a padded unit costs as much as a real one), then by similar N
        mv = self.m[idx]
        order = torch.argsort(mv * (int(N.max()) + 1) + N)
        start = 0
        while start < len(order):
            stop = start + 1
            m_c = int(mv[order[start]])
            while stop < len(order):
                n_big = int(N[order[stop]])
                nt = self.n_test or n_big
                if int(mv[order[stop]]) != m_c or n_big > self.pad_ratio * int(N[order[start]]):
                    break
                if (stop - start + 1) * max(n_big, nt) * self.T * m_c > self.max_elems:
                    break
                stop += 1
            sel = order[start:stop]
            out[sel] = self._evaluate_chunk(idx[sel], N[sel])
            start = stop
        return out

    def _evaluate_chunk(self, idx: Tensor, N: Tensor) -> Tensor:
        A, T = idx.shape[0], self.T
        dvec, mvec = self.d[idx], self.m[idx]
        d_max, m_max = int(dvec.max()), int(mvec.max())
        n_max = int(N.max())
        X, Y = self._data(idx, n_max, dvec, d_max)
        ar = torch.arange(n_max, device=X.device).view(1, -1)
        mask = (ar < N.view(-1, 1)).to(X.dtype) if int(N.min()) < n_max else None
        if self.n_test is None:
            Xt, Yt = self._data(idx, n_max, dvec, d_max)
            tmask = mask
        else:
            Xt, Yt = self._data(idx, self.n_test, dvec, d_max)
            tmask = None
        rep = lambda v: v.repeat_interleave(T)  # noqa: E731
        W0 = ts.sample_students(A * T, d_max, m_max, rep(dvec), rep(mvec), generator=self.generator)
        r = self.recipe
        res = ts.train(W0, X, Y, optimizer=r.optimizer, lr=r.lr, epochs=r.epochs, reduction=r.reduction,
                       X_test=Xt, Y_test=Yt, train_mask=mask, test_mask=tmask,
                       out_scale=1.0 / rep(mvec).to(X.dtype).sqrt())
        loss = (1.0 - res.test_r2).view(A, T)
        loss = torch.nan_to_num(loss, nan=math.inf)  # diverged runs count as failures
        self.calls.append({"n_problems": A, "N": N.tolist(), "models": A * T})
        return loss

    def success_prob(self, idx: Tensor, N: Tensor) -> Tensor:
        """p-hat = fraction of the T restarts with normalised test loss < L: (A,)."""
        return (self.evaluate(idx, N) < self.L).float().mean(1)


ProbFn = Callable[[Tensor, Tensor], Tensor]


def _check_p(p_recovery: float) -> None:
    if not (0.0 < p_recovery <= 1.0):
        raise ValueError(f"p_recovery must be in (0, 1], got {p_recovery!r}")


def sample_complexity(success_prob: ProbFn, P: int, *, p_recovery: float = 0.5, n_start: int = 1,
                      n_max: int = 2**14, trace: list | None = None) -> Tensor:
    """Algorithm 2 for P problems at once: N_opt (P,) float, the first N in n_start * 2^k with
    p-hat >= p_recovery (inf if none up to ``n_max``).  ``success_prob(idx (A,), N (A,)) -> p (A,)``.
    Each evaluation is appended to ``trace`` as (idx, N, p) when given."""
    _check_p(p_recovery)
    if P <= 0 or n_start < 1 or n_max < n_start:
        raise ValueError(f"need P > 0 and 1 <= n_start <= n_max, got P={P}, n_start={n_start}, n_max={n_max}")
    n_opt = torch.full((P,), math.inf)
    active = torch.arange(P)
    n = n_start
    while active.numel() and n <= n_max:
        Nv = torch.full((active.numel(),), n, dtype=torch.long)
        p = success_prob(active, Nv).cpu()
        if trace is not None:
            trace.append((active.clone(), Nv.clone(), p.clone()))
        ok = p >= p_recovery
        n_opt[active[ok]] = float(n)
        active = active[~ok]
        n *= 2
    return n_opt


def sample_complexity_dichotomy(success_prob: ProbFn, P: int, *, depth: int = 4, p_recovery: float = 0.5,
                                n_start: int = 1, n_max: int = 2**14, trace: list | None = None) -> Tensor:
    """Algorithm 4: Algorithm 2 then ``depth`` bisection steps on (N_high/2, N_high]; returns N_high (P,)."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth!r}")
    high = sample_complexity(success_prob, P, p_recovery=p_recovery, n_start=n_start, n_max=n_max, trace=trace)
    fin = torch.isfinite(high)
    low = torch.where(fin, torch.floor(high / 2), high)
    for _ in range(depth):
        open_ = fin & (high - low > 1)
        if not open_.any():
            break
        idx = torch.nonzero(open_).view(-1)
        mid = torch.floor((low[idx] + high[idx]) / 2)
        p = success_prob(idx, mid.long()).cpu()
        if trace is not None:
            trace.append((idx.clone(), mid.long().clone(), p.clone()))
        up = p < p_recovery
        low[idx[up]] = mid[up]
        high[idx[~up]] = mid[~up]
    return high


def recovery_r2(sweep: TeacherSweep, idx: Tensor, N: Tensor) -> Tensor:
    """Algorithm 3: mean over the T restarts of the test R^2, per problem: (A,).  Also see
    :meth:`TeacherSweep.evaluate` for the per-restart values (1 - R^2)."""
    return (1.0 - sweep.evaluate(idx, N)).mean(1)


def recovery_grid(dims: list[tuple[int, int]], Ns: list[int], K: int, T: int, recipe: Recipe, *,
                  generator: torch.Generator, **kw) -> tuple[Tensor, TeacherSweep]:
    """Test R^2 of every restart for K teachers per (d, m) in ``dims`` at every N in ``Ns`` (Algorithm 1 on a
    grid; Algorithm 3 is the mean over the last axis).  The same K teachers are used at every N.
    Returns R^2 as a :class:`lib.grid.Grid` over axes ``N``, ``config`` (the (d, m) pairs), ``teacher``,
    ``restart`` — shape (len(Ns), len(dims), K, T) — and the sweep (for its call log)."""
    if not Ns or min(Ns) < 1:
        raise ValueError(f"Ns must be a non-empty list of positive sample sizes, got {Ns!r}")
    sw = TeacherSweep.draw(dims, K, T, recipe, generator=generator, **kw)
    idx = torch.arange(sw.P).repeat(len(Ns))
    N = torch.tensor(Ns).repeat_interleave(sw.P)
    r2 = 1.0 - sw.evaluate(idx, N)
    return Grid(r2.view(len(Ns), len(dims), K, T),
                {"N": Ns, "config": dims, "teacher": range(K), "restart": range(T)}), sw


def loo_sq_errors(f: Callable, x, y, p0: tuple[float, ...]):
    """Leave-one-out squared prediction errors of the law ``y ≈ f(x, *params)`` (non-linear least squares,
    :func:`lib.stats.fit_curve`): entry i is (y_i − f(x_i; params fitted without point i))², nan when that fit
    fails. Held-out errors let laws with the same number of free parameters be compared (eqs. 2.11–2.12)."""
    import numpy as np

    from lib import stats
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < len(p0) + 2:
        raise ValueError(f"x, y: equal 1-D shapes with at least {len(p0) + 2} points, got {x.shape}, {y.shape}")
    out = np.empty(x.size)
    for i in range(x.size):
        keep = np.arange(x.size) != i
        params = stats.fit_curve(f, x[keep], y[keep], p0=p0)[:-1]
        out[i] = (y[i] - f(x[i], *params)) ** 2 if np.all(np.isfinite(params)) else np.nan
    return out


def paired_z(err_a, err_b) -> float:
    """z-score of the mean paired difference of two laws' per-point held-out errors (a − b): mean / s.e.; 0 when
    the differences are all 0. |z| ≤ 2 means the two laws are indistinguishable at about the 95% level."""
    import numpy as np

    d = np.asarray(err_a, float) - np.asarray(err_b, float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        raise ValueError("paired_z needs at least 2 finite paired differences")
    se = d.std(ddof=1) / np.sqrt(d.size)
    return 0.0 if se == 0 else float(d.mean() / se)


def n_opt_grid(dims: list[tuple[int, int]], K: int, T: int, recipe: Recipe, *, generator: torch.Generator,
               depth: int | None = None, p_recovery: float = 0.5, **kw) -> tuple[Grid, TeacherSweep]:
    """The sample complexity of K fresh teachers per (d, m) in ``dims``: Algorithm 2 (``depth=None``, doubling
    only) or Algorithm 4 (``depth`` bisection steps after it), all problems in one batched sweep.
    Returns N_opt as a :class:`lib.grid.Grid` over axes ``config`` (the (d, m) pairs) and ``teacher`` — shape
    (len(dims), K), inf where no N up to 2^14 recovers — and the sweep (for its call log)."""
    sw = TeacherSweep.draw(dims, K, T, recipe, generator=generator, **kw)
    if depth is None:
        n = sample_complexity(sw.success_prob, sw.P, p_recovery=p_recovery)
    else:
        n = sample_complexity_dichotomy(sw.success_prob, sw.P, depth=depth, p_recovery=p_recovery)
    return Grid(n.numpy().reshape(len(dims), K), {"config": dims, "teacher": range(K)}), sw
