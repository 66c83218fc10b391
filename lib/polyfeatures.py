"""Monomial liftings ("tensor products") for polynomial regression.

Used by the chapter ``polynomial_regression`` (thesis 000, Ch. 3).

* :func:`monomial_tables` / :func:`lift` -- all monomials of degree <= k of a d-vector, in three bases
  (eq. 3.4 and eq. 3.8 of the thesis):

  - ``"dedup"``: each monomial once (combinations with replacement), for Gaussian inputs.
    Count ``C(d+k, k) - 1`` without the intercept (1,770 for d = 20, k = 3).
  - ``"squarefree"``: products of distinct coordinates only (combinations), the right basis for
    +-1 inputs where ``x_j**2 = 1``. Count ``sum_{t<=k} C(d, t)`` (eq. 3.8).
  - ``"ordered"``: every ordered tuple (Kronecker powers ``x^{(x)t}``), duplicates included.
    Count ``sum_{t<=k} d**t``.

* :func:`conv_pair_table` / :func:`lift_conv2` -- the "convolutional" degree-2 image features of
  eq. 3.13: pixel products ``X_i X_j`` for pixels i, j that fit in one 3x3 filter (Chebyshev
  distance <= 2, i.e. j in the 5x5 window centred on i), ordered pairs with squares, as the thesis
  counts them (18,740 features with the 784 pixels on 28x28; L1003, L1279). ``unique=True`` keeps
  each unordered pair once (10,154 features), which spans the same column space.

* :func:`midpoint_map` -- the pooling of degree-2 coefficients onto the image grid (eq. 3.28).

Index tables are built once, vectorised (no loop over features); lifting is one gather-multiply per
degree, chunked over rows, on the device of the input.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

BASES = ("dedup", "squarefree", "ordered")


def _check_basis(basis: str) -> None:
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")


def _check_dk(d: int, k: int) -> None:
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive int, got {d!r}")
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative int, got {k!r}")


def count_monomials(d: int, k: int, basis: str = "dedup", exact_degree: bool = False) -> int:
    """Number of monomials of degree 1..k (or exactly k) in ``basis``, without the intercept."""
    _check_basis(basis)
    _check_dk(d, k)
    degrees = [k] if exact_degree else list(range(1, k + 1))
    if basis == "dedup":
        return sum(math.comb(d + t - 1, t) for t in degrees)
    if basis == "squarefree":
        return sum(math.comb(d, t) for t in degrees)
    return sum(d**t for t in degrees)


@dataclass(frozen=True)
class MonomialTables:
    """Index tables of a monomial basis.

    ``tuples[t-1]``: (p_t, t) long -- the coordinates multiplied in each degree-t monomial (sorted
    non-decreasing for ``dedup``, increasing for ``squarefree``, any order for ``ordered``).
    ``parents[t-1]``: (p_t,) long -- index of the degree-(t-1) monomial that the degree-t one extends
    by its last coordinate (``parents[0]`` is all zeros and refers to the constant 1).
    """

    d: int
    k: int
    basis: str
    tuples: tuple[torch.Tensor, ...]
    parents: tuple[torch.Tensor, ...]

    @property
    def n_features(self) -> int:
        return sum(int(t.shape[0]) for t in self.tuples)

    def degree_slices(self) -> list[slice]:
        """Column slices of each degree in :func:`lift` output (after the optional intercept)."""
        out, start = [], 0
        for t in self.tuples:
            out.append(slice(start, start + int(t.shape[0])))
            start += int(t.shape[0])
        return out


def monomial_tables(d: int, k: int, basis: str = "dedup") -> MonomialTables:
    """Build the index tables of all monomials of degree 1..k of a d-vector.

    Vectorised over features: each degree extends every degree-(t-1) tuple by all admissible last
    coordinates at once (``repeat_interleave``), so the cost is linear in the output size.
    """
    _check_basis(basis)
    _check_dk(d, k)
    tuples: list[torch.Tensor] = []
    parents: list[torch.Tensor] = []
    prev = torch.zeros((1, 0), dtype=torch.long)
    prev_last = torch.full((1,), -1, dtype=torch.long)  # "last coordinate" of the empty tuple
    for _t in range(1, k + 1):
        if basis == "ordered":
            start = torch.zeros_like(prev_last)
        elif basis == "dedup":
            start = prev_last.clamp(min=0)
        else:  # squarefree
            start = prev_last + 1
        counts = (d - start).clamp(min=0)
        parent = torch.repeat_interleave(torch.arange(prev.shape[0]), counts)
        # offset of each child inside its parent's block
        block_start = torch.cumsum(counts, 0) - counts
        offs = torch.arange(int(counts.sum())) - torch.repeat_interleave(block_start, counts)
        last = torch.repeat_interleave(start, counts) + offs
        cur = torch.cat([prev[parent], last[:, None]], dim=1)
        tuples.append(cur)
        parents.append(parent)
        prev, prev_last = cur, last
    return MonomialTables(d, k, basis, tuple(tuples), tuple(parents))


def _row_chunks(n: int, chunk: int) -> Iterator[slice]:
    if chunk < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk}")
    for s in range(0, n, chunk):
        yield slice(s, min(n, s + chunk))


def lift(
    X: torch.Tensor,
    tables: MonomialTables,
    intercept: bool = True,
    chunk_size: int = 8192,
) -> torch.Tensor:
    """Lift X: (n, d) to monomial features (n, [1 +] p), columns ordered by degree then table row.

    Degree-t columns are computed as ``F_{t-1}[:, parent] * X[:, last]`` (one gather-multiply per
    degree), chunked over rows; dtype and device follow X.
    """
    if X.ndim != 2 or X.shape[1] != tables.d:
        raise ValueError(f"X must have shape (n, {tables.d}), got {tuple(X.shape)}")
    n = X.shape[0]
    p = tables.n_features + (1 if intercept else 0)
    out = torch.empty((n, p), dtype=X.dtype, device=X.device)
    dev_tables = [(t[:, -1].to(X.device), par.to(X.device)) for t, par in zip(tables.tuples, tables.parents)]
    for rows in _row_chunks(n, chunk_size):
        x = X[rows]
        col = 0
        if intercept:
            out[rows, 0] = 1
            col = 1
        prev = torch.ones((x.shape[0], 1), dtype=X.dtype, device=X.device)
        for last, parent in dev_tables:
            cur = prev[:, parent] * x[:, last]
            out[rows, col : col + cur.shape[1]] = cur
            col += cur.shape[1]
            prev = cur
    return out


def lift_bruteforce(X: torch.Tensor, d: int, k: int, basis: str, intercept: bool = True) -> torch.Tensor:
    """Reference lifting with itertools (tests only; slow by design)."""
    import itertools

    _check_basis(basis)
    gen = {
        "dedup": itertools.combinations_with_replacement,
        "squarefree": itertools.combinations,
        "ordered": lambda r, t: itertools.product(r, repeat=t),
    }[basis]
    cols = [torch.ones(X.shape[0], dtype=X.dtype)] if intercept else []
    for t in range(1, k + 1):
        for tup in gen(range(d), t):
            c = torch.ones(X.shape[0], dtype=X.dtype)
            for j in tup:
                c = c * X[:, j]
            cols.append(c)
    return torch.stack(cols, dim=1)


# ----------------------------------------------------------------------------------------------
# Convolutional degree-2 image features (eq. 3.13)
# ----------------------------------------------------------------------------------------------


def conv_pair_table(height: int = 28, width: int = 28, radius: int = 2, unique: bool = False) -> torch.Tensor:
    """Pixel pairs (i, j) with Chebyshev distance <= radius, as flat indices: (P, 2) long.

    radius = 2 is the thesis's rule ("covered simultaneously by a 3x3 filter", L1001). Ordered pairs
    with i == j included (``unique=False``) give 134**2 = 17,956 pairs on 28x28; ``unique=True`` keeps
    i <= j only (9,370). Rows are sorted by (i, j).
    """
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be a non-negative int, got {radius!r}")
    r = torch.arange(height).repeat_interleave(width)
    c = torch.arange(width).repeat(height)
    offs = torch.arange(-radius, radius + 1)
    dr = offs.repeat_interleave(offs.numel())
    dc = offs.repeat(offs.numel())
    rr = r[:, None] + dr[None, :]
    cc = c[:, None] + dc[None, :]
    ok = (rr >= 0) & (rr < height) & (cc >= 0) & (cc < width)
    i = torch.arange(height * width)[:, None].expand_as(rr)
    j = rr * width + cc
    pairs = torch.stack([i[ok], j[ok]], dim=1)
    if unique:
        pairs = pairs[pairs[:, 0] <= pairs[:, 1]]
    return pairs


def count_conv2_features(height: int = 28, width: int = 28, radius: int = 2, unique: bool = False) -> int:
    """Pixels + pixel pairs of :func:`conv_pair_table` (no intercept): 18,740 on 28x28 (ordered)."""
    return height * width + int(conv_pair_table(height, width, radius, unique).shape[0])


def lift_conv2(
    images: torch.Tensor,
    pairs: torch.Tensor,
    intercept: bool = True,
    pair_scale: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
    chunk_size: int = 4096,
) -> torch.Tensor:
    """Eq. 3.13 features of images: (n, H, W) or (n, H*W) -> (n, [1 +] H*W + P).

    Columns: [1], the H*W pixels, then ``X_i X_j`` for each row (i, j) of ``pairs`` (optionally times
    ``pair_scale``: (P,), e.g. sqrt(2) on off-diagonal unique pairs so that the min-norm solution
    equals the ordered-basis one). uint8 images are scaled to [0, 1]. Device follows ``images``.
    """
    X = images.reshape(images.shape[0], -1)
    if X.dtype == torch.uint8:
        X = X.to(dtype) / 255.0
    else:
        X = X.to(dtype)
    npx = X.shape[1]
    if pairs.ndim != 2 or pairs.shape[1] != 2 or int(pairs.max()) >= npx:
        raise ValueError(f"pairs must be (P, 2) pixel indices < {npx}")
    a, b = pairs[:, 0].to(X.device), pairs[:, 1].to(X.device)
    sc = None if pair_scale is None else pair_scale.to(device=X.device, dtype=dtype)
    off = 1 if intercept else 0
    out = torch.empty((X.shape[0], off + npx + pairs.shape[0]), dtype=dtype, device=X.device)
    for rows in _row_chunks(X.shape[0], chunk_size):
        x = X[rows]
        if intercept:
            out[rows, 0] = 1
        out[rows, off : off + npx] = x
        q = x[:, a] * x[:, b]
        if sc is not None:
            q = q * sc
        out[rows, off + npx :] = q
    return out


def unique_pair_scale(pairs: torch.Tensor) -> torch.Tensor:
    """sqrt(2) for off-diagonal pairs, 1 on the diagonal: (P,) float64.

    With unique pairs scaled this way, the minimum-norm least-squares solution maps exactly onto the
    ordered-pairs min-norm solution by splitting each off-diagonal coefficient ``g`` into
    ``beta_ij = beta_ji = g / sqrt(2)`` (see :func:`unique_to_ordered`).
    """
    s = torch.ones(pairs.shape[0], dtype=torch.float64)
    s[pairs[:, 0] != pairs[:, 1]] = math.sqrt(2.0)
    return s


def unique_to_ordered(
    coef_pairs_unique: torch.Tensor, pairs_unique: torch.Tensor, pairs_ordered: torch.Tensor, npx: int
) -> torch.Tensor:
    """Map scaled-unique pair coefficients (..., P_u) to ordered-pair coefficients (..., P_o)."""
    key_u = pairs_unique[:, 0] * npx + pairs_unique[:, 1]
    lo = torch.minimum(pairs_ordered[:, 0], pairs_ordered[:, 1])
    hi = torch.maximum(pairs_ordered[:, 0], pairs_ordered[:, 1])
    key_o = lo * npx + hi
    order = torch.argsort(key_u)
    pos = order[torch.searchsorted(key_u[order], key_o)]
    scale = unique_pair_scale(pairs_unique).to(coef_pairs_unique.dtype)
    diag = (pairs_ordered[:, 0] == pairs_ordered[:, 1]).to(coef_pairs_unique.dtype)
    g = coef_pairs_unique[..., pos] * scale[pos].to(coef_pairs_unique.device)
    # off-diagonal: g*sqrt2 split in two halves -> g/sqrt2 each; diagonal: g unchanged
    return g * (diag + (1 - diag) * 0.5).to(g.device)


def midpoint_map(coef_pairs: torch.Tensor, pairs: torch.Tensor, height: int = 28, width: int = 28) -> torch.Tensor:
    """Pool pair coefficients onto the grid at the pair's midpoint (eq. 3.28).

    coef_pairs: (..., P) for ``pairs``: (P, 2) -> (..., height, width); coefficient of (i, j) lands at
    (floor((r_i + r_j)/2), floor((c_i + c_j)/2)) (0-based), summed.
    """
    r = (pairs[:, 0] // width + pairs[:, 1] // width) // 2
    c = (pairs[:, 0] % width + pairs[:, 1] % width) // 2
    cell = (r * width + c).to(coef_pairs.device)
    lead = coef_pairs.shape[:-1]
    flat = coef_pairs.reshape(-1, coef_pairs.shape[-1])
    out = torch.zeros((flat.shape[0], height * width), dtype=coef_pairs.dtype, device=coef_pairs.device)
    out.index_add_(1, cell, flat)
    return out.reshape(*lead, height, width)


def ordered_from_unique_columns(
    height: int = 28, width: int = 28, radius: int = 2, intercept: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Express the ordered-pair feature columns through the sqrt(2)-scaled unique-pair ones.

    Returns (idx, factor), both (p_ordered,): ordered column c equals ``factor[c] * unique column idx[c]``
    (``lift_conv2(x, ordered pairs)`` vs ``lift_conv2(x, unique pairs, pair_scale=unique_pair_scale)``), so
    ``X_o^T X_o = (f f^T) * G_u[idx][:, idx]`` is obtained from the unique Gram without re-lifting
    (used to solve the thesis's literal 18,741-column normal equations from a streamed 10,155-column Gram).
    """
    npx = height * width
    Po = conv_pair_table(height, width, radius)
    Pu = conv_pair_table(height, width, radius, unique=True)
    key_u = Pu[:, 0] * npx + Pu[:, 1]
    lo = torch.minimum(Po[:, 0], Po[:, 1])
    hi = torch.maximum(Po[:, 0], Po[:, 1])
    pos = torch.searchsorted(key_u, lo * npx + hi)  # key_u is sorted (rows sorted by (i, j), i <= j)
    fac = 1.0 / unique_pair_scale(Pu)[pos]
    off = 1 if intercept else 0
    head = torch.arange(off + npx)
    idx = torch.cat([head, off + npx + pos])
    factor = torch.cat([torch.ones(off + npx, dtype=torch.float64), fac])
    return idx, factor
