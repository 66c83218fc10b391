"""Benchmark: batched and exact least squares (thesis 000, eqs. 3.9 and 3.14-3.16) -- the library's dual solve and
streamed Gram vs what a user would otherwise write, at several sizes, in one run.

1. ``dual``: the min-norm solve of one bag through the B x B Gram (``least_squares.min_norm_dual``: one float32
   ``syrk`` + Cholesky, beta = X^T alpha) against ``torch.linalg.lstsq(driver="gelsd")`` (SVD, float64) and
   scikit-learn ``LinearRegression(fit_intercept=False)``, on random data (the cost does not depend on the values):
   swept over the bag size B at p = 10,155 (the unique-pair lifting of 28x28 images) and over p at B = 1,000. The
   SVD baselines run up to B = 1,000 and p = 10,155; beyond, their power law over the measured sizes.
2. ``pipeline``: lifting plus dual solve of a Fashion-MNIST bag (``polyfeatures.lift_conv2`` on the sqrt(2)-scaled
   unique pairs, 10,155 columns) against the same on the ordered pairs (18,741 columns: same Gram, same fit) and
   against the pipeline a user would write, ``PolynomialFeatures(2) + LinearRegression`` on 14x14-pooled images
   (19,503 features: the full 784-pixel expansion has 307,720 columns and does not fit in memory), swept over B.
3. ``gram``: the exact least squares' streamed Gram X^T X (``least_squares.streamed_gram``: float64 ``syrk`` per
   chunk of 2,000 lifted rows, 14x14 images, p = 2,343) against the general product (``addmm``), over the rows N.
4. ``solve``: the exact min-norm solve of X^T X beta = X^T Y (``least_squares.solve_min_norm``: Cholesky when safely
   positive definite, else ``eigh``) against ``eigh`` directly, over p (images of side 8, 10, 12; N = 4,000 rows).

Flops (one library call): dual B^2 p (syrk) + B^3/3 (Cholesky) + 2 B p c; Gram N p^2 (syrk).
Results: bench/results/least_squares.json.

Usage: python bench/bench_least_squares.py [--threads 1] [--device cpu] [--smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from lib import least_squares as ls  # noqa: E402
from lib import polyfeatures as pf  # noqa: E402
from lib.book import datasets  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

C = 10  # one-vs-all targets
SIZES = dict(dual_B=[250, 500, 1000, 2000], dual_p=[2500, 5000, 10155, 20000], svd_max_B=1000, svd_max_p=10155,
             pipeline_B=[250, 500, 1000, 2000], sklearn_max_B=1000, gram_N=[1000, 2000, 4000, 8000],
             solve_side=[8, 10, 12])


def dual_flops(B: int, p: int) -> float:
    return float(B) * B * p + B**3 / 3 + 2.0 * B * p * C


def same_fit(tol: float):
    """Check that two solutions (beta: (p, c) or (1, p, c)) give the same predictions on random rows."""
    def check(a, b) -> dict:
        a, b = (x.solution if hasattr(x, "solution") else x for x in (a, b))
        a, b = a.reshape(-1, C).double(), b.reshape(-1, C).double()
        diff = float((a - b).abs().max() / b.abs().max())
        if diff > tol:
            raise SystemExit(f"least-squares solutions disagree: relative max difference {diff:.2e}")
        return {"max_rel_diff_beta": diff}
    return check


def sklearn_fit(F, Y):
    """scikit-learn's fit of the min-norm solution (imported and warmed up before the timings)."""
    from sklearn.linear_model import LinearRegression

    return torch.from_numpy(LinearRegression(fit_intercept=False).fit(F, Y).coef_.T.copy())


def dual_sweeps(b: Bench) -> None:
    g = torch.Generator().manual_seed(0)
    Xw, Yw = torch.randn(20, 50, generator=g, dtype=torch.float64), torch.randn(20, C, generator=g, dtype=torch.float64)
    torch.linalg.lstsq(Xw, Yw, driver="gelsd")   # warm-up: imports and first LAPACK calls, outside the timings
    sklearn_fit(Xw.numpy(), Yw.numpy())
    points = [(B, 10155, "B") for B in b.sizes(SIZES["dual_B"])] + [(1000, p, "p") for p in b.sizes(SIZES["dual_p"])]
    for B, p, axis in points:
        X = torch.randn(1, B, p, generator=g)
        Y = torch.randn(1, B, C, generator=g)
        Xd, Yd = X[0].double(), Y[0].double()
        run = B <= SIZES["svd_max_B"] and p <= SIZES["svd_max_p"]
        base = [Baseline("torch.linalg.lstsq (gelsd, SVD, float64)",
                         (lambda Xd=Xd, Yd=Yd: torch.linalg.lstsq(Xd, Yd, driver="gelsd")) if run else None,
                         check=same_fit(1e-2))]
        if axis == "B":
            Xn, Yn = Xd.numpy(), Yd.numpy()
            base.append(Baseline("sklearn LinearRegression (float64)",
                                 (lambda Xn=Xn, Yn=Yn: sklearn_fit(Xn, Yn)) if run else None, check=same_fit(1e-2)))
        b.point("dual min-norm solve (B×B Gram + Cholesky)", dict(B=B, p=p), lambda X=X, Y=Y: ls.min_norm_dual(X, Y),
                base, sweep=axis, repeat=3 if B * p < 2e7 else 2, flops=dual_flops(B, p), dtype="float32",
                config=f"{'p = 10,155' if axis == 'B' else 'B = 1,000'}, random data")


def pipeline_sweep(b: Bench) -> None:
    from sklearn.preprocessing import PolynomialFeatures

    fm = datasets.fashion_mnist()
    Xtr, ytr = torch.from_numpy(fm.X_train), torch.from_numpy(fm.y_train)
    P, Pu = pf.conv_pair_table(28, 28), pf.conv_pair_table(28, 28, unique=True)
    scu = pf.unique_pair_scale(Pu)
    Xte = torch.from_numpy(fm.X_test[:500])
    Fte_u = pf.lift_conv2(Xte, Pu, pair_scale=scu).double()
    Fte_o = pf.lift_conv2(Xte, P).double()

    def unique(x, Y):
        return ls.min_norm_dual(pf.lift_conv2(x, Pu, pair_scale=scu)[None], Y[None])[0]

    def ordered(x, Y):
        return ls.min_norm_dual(pf.lift_conv2(x, P)[None], Y[None])[0]

    def same_predictions(bu, bo) -> dict:
        diff = float((Fte_u @ bu.double() - Fte_o @ bo.double()).abs().max())
        if diff > 1e-2:
            raise SystemExit(f"unique- and ordered-pair fits disagree on test images: {diff:.2e}")
        return {"max_abs_diff_test_scores": diff}

    from sklearn.linear_model import LinearRegression

    def sklearn_pipeline(pooled, Yn):
        return LinearRegression(fit_intercept=False).fit(PolynomialFeatures(2).fit_transform(pooled), Yn)

    for B in b.sizes(SIZES["pipeline_B"]):
        rows = torch.randperm(60_000, generator=torch.Generator().manual_seed(B))[:B]
        x, Y = Xtr[rows], ls.one_hot(ytr[rows])
        pooled = torch.nn.functional.avg_pool2d(x[:, None].float() / 255, 2)[:, 0].reshape(B, -1).double().numpy()
        Yn = Y.double().numpy()
        p = 1 + 784 + Pu.shape[0]
        b.point("lift_conv2 (unique pairs) + dual solve", dict(B=B, p=p), lambda x=x, Y=Y: unique(x, Y), [
            Baseline("lift_conv2 (ordered pairs, 18,741 columns) + dual solve", lambda x=x, Y=Y: ordered(x, Y),
                     check=same_predictions),
            Baseline("sklearn PolynomialFeatures(2) + LinearRegression (14×14 pooled, 19,503 features)",
                     (lambda pooled=pooled, Yn=Yn: sklearn_pipeline(pooled, Yn))
                     if B <= SIZES["sklearn_max_B"] else None)],
            sweep="B", repeat=2, warmup=0, flops=dual_flops(B, p), dtype="float32", config="Fashion-MNIST bags")


def exact_sweeps(b: Bench) -> None:
    fm = datasets.fashion_mnist()
    X, Y = torch.from_numpy(fm.X_train), ls.one_hot(torch.from_numpy(fm.y_train))

    def lift_of(side: int):
        Pu = pf.conv_pair_table(side, side, unique=True)
        sc = pf.unique_pair_scale(Pu)
        return (lambda x: pf.lift_conv2(torch.nn.functional.avg_pool2d(x[:, None].float() / 255, 28 // side)[:, 0],
                                        Pu, pair_scale=sc)), 1 + side * side + Pu.shape[0]

    def same_gram(a, c) -> dict:
        diff = float((a.XtX - c.XtX).abs().max() / c.XtX.abs().max())
        if diff > 1e-10:
            raise SystemExit(f"syrk and addmm Grams disagree: {diff:.2e}")
        return {"max_rel_diff_gram": diff}

    lift, p = lift_of(14)
    for N in b.sizes(SIZES["gram_N"]):
        b.point("streamed Gram X^T X (streamed_gram: float64 syrk per chunk)", dict(N=N, p=p),
                lambda N=N: ls.streamed_gram(ls.iter_chunks(X[:N], Y[:N], 2000), lift),
                [Baseline("general product per chunk (addmm)",
                          lambda N=N: ls.streamed_normal_equations(ls.iter_chunks(X[:N], Y[:N], 2000), lift),
                          check=same_gram)],
                sweep="N", repeat=2, warmup=0, flops=float(N) * p * p, dtype="float64", config="14×14 images")
    for side in b.sizes(SIZES["solve_side"]):
        lift, p = lift_of(side)
        ne = ls.streamed_gram(ls.iter_chunks(X[:4000], Y[:4000], 2000), lift)
        sol = ls.solve_min_norm(ne)
        b.point("exact min-norm solve (solve_min_norm: Cholesky when safely PD, else eigh)", dict(p=p, N=4000),
                lambda ne=ne: ls.solve_min_norm(ne),
                [Baseline("eigh of X^T X (solve_normal_equations)", lambda ne=ne: ls.solve_normal_equations(ne, "eigh"),
                          check=lambda a, c: {"max_abs_diff_beta": float((a.beta - c.beta).abs().max())})],
                sweep="p", repeat=2, warmup=0, dtype="float64", config="N = 4,000 Fashion-MNIST rows",
                note=f"solver taken: {sol.solver}, rank {sol.rank} of {p}")


def main(argv: list[str] | None = None) -> int:
    b = Bench("least_squares", __doc__, argv=argv)
    dual_sweeps(b)
    pipeline_sweep(b)
    exact_sweeps(b)
    b.save({"what": __doc__.splitlines()[0], "sizes": SIZES})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
