"""A labelled result grid: the result side of every sweep, so a chapter says *what* it sweeps, not how to index it.

A :class:`Grid` is an ``ndarray`` of values with one named axis per swept quantity and the coordinate values
along each axis::

    g = Grid(R2, axes={"N": [50, 100, 200], "d": [5, 10], "teacher": range(5), "restart": range(4)})
    g.sel(N=200, d=10)                   # a Grid over (teacher, restart)
    g.mean("restart").median("teacher")  # reductions drop the axis by name
    mu, se = g.mean_se("teacher")        # two Grids
    g.sel(d=10).mean("restart").values   # the ndarray, axes in order (N, teacher)

Selections are by coordinate value (``sel``) or by position (``isel``), never by ``list.index`` on a
separate list. Grids serialise to plain JSON (:meth:`to_dict` / :meth:`from_dict`), which is how records store
sweep results. :func:`sweep` evaluates a function over the Cartesian product of named axes into a Grid (for
cheap per-point work; heavy sweeps batch inside the library and wrap their tensor with ``Grid``).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def _coord_list(v: Iterable[Any]) -> list[Any]:
    out = []
    for c in v:
        if isinstance(c, np.generic):
            c = c.item()
        out.append(c)
    return out


class Grid:
    """Values ``(n_1, ..., n_k)`` over named axes ``axes = {name_i: coordinates_i}`` (insertion order = axis order).

    ``values`` may be a numpy array or a torch tensor (converted to numpy on construction).
    """

    __slots__ = ("values", "axes")

    def __init__(self, values: Any, axes: Mapping[str, Iterable[Any]]) -> None:
        if hasattr(values, "detach"):  # torch
            values = values.detach().cpu().numpy()
        v = np.asarray(values)
        ax = {str(k): _coord_list(c) for k, c in axes.items()}
        if v.ndim != len(ax):
            raise ValueError(f"values has {v.ndim} dimensions but {len(ax)} axes were named: {list(ax)}")
        for (name, coords), n in zip(ax.items(), v.shape):
            if len(coords) != n:
                raise ValueError(f"axis {name!r} has {len(coords)} coordinates but the values have {n} along it")
        self.values: np.ndarray = v
        self.axes: dict[str, list[Any]] = ax

    # ------------------------------------------------------------------ basics
    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def coords(self, name: str) -> np.ndarray:
        """The coordinates of axis ``name`` as an array."""
        return np.asarray(self.axes[self._check(name)])

    def __repr__(self) -> str:
        desc = ", ".join(f"{k}={len(v)}" for k, v in self.axes.items())
        return f"Grid({desc}; dtype={self.values.dtype})"

    def _check(self, name: str) -> str:
        if name not in self.axes:
            raise KeyError(f"axis {name!r} is not in this grid; its axes are {list(self.axes)}")
        return name

    def _pos(self, name: str, coord: Any) -> int:
        coords = self.axes[self._check(name)]
        for i, c in enumerate(coords):
            if c == coord or (isinstance(c, float) and isinstance(coord, (int, float))
                              and math.isclose(c, coord, rel_tol=1e-12, abs_tol=1e-15)):
                return i
        raise KeyError(f"{name}={coord!r} is not a coordinate of axis {name!r}; its coordinates are {coords}")

    # ------------------------------------------------------------------ selection
    def isel(self, **positions: int | Sequence[int]) -> Grid:
        """Select by position along named axes; an int drops the axis, a sequence keeps it."""
        idx: list[Any] = [slice(None)] * self.values.ndim
        axes = dict(self.axes)
        for name, pos in positions.items():
            k = self.dims.index(self._check(name))
            if isinstance(pos, (int, np.integer)):
                idx[k] = int(pos)
                del axes[name]
            else:
                pos = [int(p) for p in pos]
                idx[k] = pos
                axes[name] = [self.axes[name][p] for p in pos]
        # apply one axis at a time so that several list selections do not broadcast together
        v = self.values
        for k in reversed(range(len(idx))):
            sl: list[Any] = [slice(None)] * v.ndim
            sl[k] = idx[k]
            v = v[tuple(sl)]
        return Grid(v, axes)

    def sel(self, **coords: Any) -> Grid:
        """Select by coordinate value; a scalar drops the axis, a list keeps it (in the order given)."""
        pos: dict[str, int | list[int]] = {}
        for name, c in coords.items():
            if isinstance(c, (list, tuple, np.ndarray, range)):
                pos[name] = [self._pos(name, x) for x in c]
            else:
                pos[name] = self._pos(name, c)
        return self.isel(**pos)

    def item(self) -> float:
        """The single value of a 0-dimensional grid, as a Python scalar."""
        if self.values.ndim != 0:
            raise ValueError(f"item() needs a grid with no axes left; this one has {self.dims}")
        return self.values.item()

    # ------------------------------------------------------------------ reductions
    def reduce(self, fn: Callable[..., np.ndarray], axis: str, **kw: Any) -> Grid:
        """Apply ``fn(values, axis=k, **kw)`` over the named axis, dropping it."""
        k = self.dims.index(self._check(axis))
        return Grid(fn(self.values, axis=k, **kw), {n: c for n, c in self.axes.items() if n != axis})

    def mean(self, axis: str) -> Grid:
        return self.reduce(np.mean, axis)

    def median(self, axis: str) -> Grid:
        return self.reduce(np.median, axis)

    def std(self, axis: str, ddof: int = 1) -> Grid:
        return self.reduce(np.std, axis, ddof=ddof)

    def se(self, axis: str) -> Grid:
        """Standard error of the mean along ``axis`` (0 when the axis has one point)."""
        n = self.shape[self.dims.index(self._check(axis))]
        if n < 2:
            return self.reduce(lambda v, axis: np.zeros(np.delete(v.shape, axis)), axis)
        return self.reduce(lambda v, axis: np.std(v, axis=axis, ddof=1) / math.sqrt(n), axis)

    def mean_se(self, axis: str) -> tuple[Grid, Grid]:
        return self.mean(axis), self.se(axis)

    def quantile(self, q: float, axis: str) -> Grid:
        return self.reduce(lambda v, axis: np.quantile(v, q, axis=axis), axis)

    def map(self, fn: Callable[[np.ndarray], np.ndarray]) -> Grid:
        """Elementwise transform, axes unchanged (``g.map(lambda v: v >= 0.95)``)."""
        out = np.asarray(fn(self.values))
        if out.shape != self.values.shape:
            raise ValueError(f"map must keep the shape {self.shape}, got {out.shape}")
        return Grid(out, self.axes)

    def transpose(self, *order: str) -> Grid:
        """The same grid with axes in ``order`` (all axes must be named)."""
        if sorted(order) != sorted(self.dims):
            raise ValueError(f"transpose needs every axis once: {self.dims}, got {order}")
        return Grid(self.values.transpose([self.dims.index(n) for n in order]), {n: self.axes[n] for n in order})

    def unstack(self, axis: str, **into: Iterable[Any]) -> Grid:
        """Split axis ``axis`` (a flattened Cartesian product, first factor slowest) into named axes:
        ``g.unstack("config", d=[1, 2], m=[5, 30])`` turns an axis of 4 (d, m) configurations into d × m."""
        k = self.dims.index(self._check(axis))
        parts = {n: _coord_list(c) for n, c in into.items()}
        sizes = [len(c) for c in parts.values()]
        if math.prod(sizes) != self.shape[k]:
            raise ValueError(f"unstack: {axis!r} has {self.shape[k]} coordinates, but {dict(zip(parts, sizes))} "
                             f"multiply to {math.prod(sizes)}")
        v = self.values.reshape(*self.shape[:k], *sizes, *self.shape[k + 1:])
        axes: dict[str, list[Any]] = {}
        for n, c in self.axes.items():
            if n == axis:
                axes.update(parts)
            else:
                axes[n] = c
        return Grid(v, axes)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict: ``{"axes": {...}, "values": nested lists, "dtype": str}`` (NaN → None)."""
        v = self.values
        vals = np.where(np.isnan(v), None, v).tolist() if v.dtype.kind == "f" else v.tolist()
        return {"axes": self.axes, "values": vals, "dtype": str(v.dtype)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Grid:
        dtype = np.dtype(doc.get("dtype", "float64"))
        vals = np.array(doc["values"], dtype=object)
        if dtype.kind == "f":
            vals = np.where(vals == None, np.nan, vals)  # noqa: E711  (JSON null → NaN)
        return cls(vals.astype(dtype), doc["axes"])

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Grid) and self.axes == other.axes
                and np.array_equal(self.values, other.values, equal_nan=self.values.dtype.kind == "f"))

    __hash__ = None  # type: ignore[assignment]


def sweep(fn: Callable[..., Any], **axes: Iterable[Any]) -> Grid:
    """Evaluate ``fn(**point)`` at every point of the Cartesian product of ``axes`` (in order) into a Grid.

    ``fn`` returns a scalar or an array of fixed shape; in the latter case the grid gains trailing axes named
    ``"out0", "out1", ...`` (rename them by wrapping ``Grid(g.values, {...})``). For many small models, batch
    inside the library instead and wrap the resulting tensor with :class:`Grid`.
    """
    if not axes:
        raise ValueError("sweep needs at least one named axis")
    ax = {k: _coord_list(v) for k, v in axes.items()}
    outs = [np.asarray(fn(**dict(zip(ax, point)))) for point in itertools.product(*ax.values())]
    shape = outs[0].shape
    if any(o.shape != shape for o in outs):
        raise ValueError("sweep: fn returned values of different shapes at different points")
    vals = np.stack(outs).reshape(*[len(c) for c in ax.values()], *shape)
    ax.update({f"out{i}": list(range(n)) for i, n in enumerate(shape)})
    return Grid(vals, ax)
