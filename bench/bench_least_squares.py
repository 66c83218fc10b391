"""Benchmark: one bag of batched linear regression (thesis 000, eqs. 3.14-3.16) -- the library's dual solve
vs what a user would otherwise write, in one run.

Compared on the same Fashion-MNIST bag (B rows of the 18,741-column lifting of eq. 3.13, 10 one-vs-all targets):

* ``dual``     -- ``least_squares.min_norm_dual``: B x B Gram (bmm) + Cholesky, beta = X^T alpha;
* ``dual_unique`` -- the same on the sqrt(2)-scaled unique-pair lifting (10,155 columns, identical Gram and
  min-norm fit after ``polyfeatures.unique_to_ordered``) -- what the chapter uses;
* ``primal``   -- ``torch.linalg.lstsq(X, Y, driver="gelsd")``: the min-norm solution by SVD of the B x p matrix;
* ``sklearn``  -- ``sklearn.linear_model.LinearRegression(fit_intercept=False).fit(X, Y)`` on the lifted bag;
* ``sklearn_pipeline`` -- ``PolynomialFeatures(2) + LinearRegression`` on 14x14-pooled images (19,503 features,
  the same size class; the full 784-pixel expansion has 307,720 columns and does not fit a bag in memory in
  float64 alongside its SVD on this machine), timed with its own feature construction.

Also the lifting alone (``polyfeatures.lift_conv2`` vs ``PolynomialFeatures.fit_transform``) and, with
``--all-bags``, the full 60 bags of 2,000 in the unique basis (the thesis: "around 30 minutes").

``--exact`` (alone with ``--only-exact``): exact least squares (eq. 3.9) on a slice of ``--exact-rows`` training rows
of ``--exact-side`` x ``--exact-side`` images (average-pooled below 28), one method after the other, each with its
peak resident memory above the start sampled every 10 ms:

* ``new``   -- ``streamed_gram`` (unique basis, one float64 ``syrk`` per chunk) + ``solve_min_norm`` (Cholesky when
  safely positive definite, else ``eigh``);
* ``today`` -- ``streamed_normal_equations`` (unique basis, ``addmm``) + ``solve_normal_equations(..., "eigh")``;
* ``numpy_lstsq`` -- ``numpy.linalg.lstsq`` (SVD, min-norm) on the lifted slice held in memory (unique basis).

The 1-minute load before and after is recorded: on a loaded machine the ratios are noisy.

Writes bench/results/least_squares.json atomically. Usage::

    OMP_NUM_THREADS=1 python bench/bench_least_squares.py [--bag-size 2000] [--all-bags] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from lib import least_squares as ls
from lib import polyfeatures as pf
from lib.book import datasets

from _common import emit_schema, environment, timed

OUT = Path(__file__).resolve().parent / "results" / "least_squares.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bag-size", type=int, default=2000)
    ap.add_argument("--all-bags", action="store_true", help="also time all 60 bags of 2,000 (minutes on CPU)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--exact", action="store_true", help="also benchmark the exact solve (see the docstring)")
    ap.add_argument("--only-exact", action="store_true", help="only the exact solve; merged into the existing JSON")
    ap.add_argument("--exact-rows", type=int, default=10_000)
    ap.add_argument("--exact-side", type=int, default=28)
    args = ap.parse_args()
    if args.only_exact:
        from _common import write_json
        res = json.loads(OUT.read_text()) if OUT.exists() else {}
        res["exact"] = bench_exact(args.exact_rows, args.exact_side)
        write_json(OUT, res)
        print(json.dumps(res["exact"], indent=1, sort_keys=True))
        return
    dev = torch.device(args.device)
    env = environment(args.device)
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import PolynomialFeatures

    fm = datasets.fashion_mnist()
    Xtr = torch.from_numpy(fm.X_train).to(dev)
    ytr = torch.from_numpy(fm.y_train).to(dev)
    Xte = torch.from_numpy(fm.X_test[:2000]).to(dev)
    yte = torch.from_numpy(fm.y_test[:2000]).to(dev)
    B = args.bag_size
    rows = torch.randperm(60_000, generator=torch.Generator().manual_seed(0))[:B].to(dev)
    P = pf.conv_pair_table(28, 28)
    res: dict = dict(device=str(dev), device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda"
                     else platform.processor() or platform.machine(), torch=torch.__version__,
                     cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(), bag_size=B,
                     n_features=int(785 + P.shape[0]), timings_s={}, ratios={}, accuracy={})
    T = res["timings_s"]

    T["lift_conv2"], F = timed(lambda: pf.lift_conv2(Xtr[rows], P), repeat=3)
    Y = ls.one_hot(ytr[rows])
    T["fit_dual"], beta_dual = timed(lambda: ls.min_norm_dual(F[None], Y[None])[0], repeat=2)
    T["fit_primal_gelsd"], beta_primal = timed(
        lambda: torch.linalg.lstsq(F.double().cpu(), Y.double().cpu(), driver="gelsd").solution)
    Fte = pf.lift_conv2(Xte, P)
    res["accuracy"]["dual"] = float(ls.accuracy(Fte, beta_dual, yte))
    res["accuracy"]["primal_gelsd"] = float(ls.accuracy(Fte, beta_primal.to(Fte), yte))
    res["max_abs_diff_dual_vs_primal"] = float((beta_dual.double().cpu() - beta_primal).abs().max())
    res["ratios"]["primal_gelsd / dual"] = T["fit_primal_gelsd"] / T["fit_dual"]
    # the same min-norm fit through the sqrt2-scaled unique-pair basis (10,155 columns, same Gram)
    Pu = pf.conv_pair_table(28, 28, unique=True)
    scu = pf.unique_pair_scale(Pu)
    T["lift_conv2_unique"], Fu = timed(lambda: pf.lift_conv2(Xtr[rows], Pu, pair_scale=scu), repeat=3)
    T["fit_dual_unique"], beta_u = timed(lambda: ls.min_norm_dual(Fu[None], Y[None])[0], repeat=2)
    beta_uo = torch.cat([beta_u[:785], pf.unique_to_ordered(beta_u[785:].T, Pu, P, 784).T])
    res["max_abs_diff_dual_unique_vs_ordered"] = float((beta_uo - beta_dual).abs().max())
    res["ratios"]["dual (ordered) / dual (unique)"] = T["fit_dual"] / T["fit_dual_unique"]
    res["ratios"]["primal_gelsd / dual (unique)"] = T["fit_primal_gelsd"] / T["fit_dual_unique"]

    if not args.skip_sklearn:
        Fn, Yn = F.double().cpu().numpy(), Y.double().cpu().numpy()
        T["fit_sklearn_linreg"], lr = timed(lambda: LinearRegression(fit_intercept=False).fit(Fn, Yn))
        res["accuracy"]["sklearn_linreg"] = float((lr.predict(Fte.double().cpu().numpy()).argmax(1)
                                                   == yte.cpu().numpy()).mean())
        res["ratios"]["sklearn_linreg / dual"] = T["fit_sklearn_linreg"] / T["fit_dual"]
        # the pipeline a user would write: PolynomialFeatures(2) + LinearRegression, on 14x14 pooled images
        pooled = torch.nn.functional.avg_pool2d(Xtr[rows][:, None].float().cpu() / 255, 2)[:, 0].reshape(B, -1).numpy()
        poly = PolynomialFeatures(2)
        T["lift_sklearn_polyfeatures_14x14"], Fp = timed(lambda: poly.fit_transform(pooled), repeat=3)
        res["n_features_sklearn_pipeline"] = int(Fp.shape[1])
        T["fit_sklearn_pipeline_14x14"], _ = timed(
            lambda: LinearRegression(fit_intercept=False).fit(poly.fit_transform(pooled), Yn))
        res["ratios"]["sklearn_pipeline(14x14, 19,503 features) / (lift + dual)"] = (
            T["fit_sklearn_pipeline_14x14"] / (T["lift_conv2"] + T["fit_dual"]))

    if args.all_bags:
        g = torch.Generator(device=dev).manual_seed(0)
        t0 = time.perf_counter()
        lift_u = lambda x: pf.lift_conv2(x, Pu, pair_scale=scu)  # noqa: E731
        fit = ls.bagged_least_squares(Xtr, ls.one_hot(ytr), lift_u, 60, 2000, g, bags_per_group=4)
        T["all_60_bags_fit"] = time.perf_counter() - t0
        T["all_60_bags_per_bag"] = fit.seconds_per_bag
        Xte_all = torch.from_numpy(fm.X_test).to(dev)
        yte_all = torch.from_numpy(fm.y_test).to(dev)
        res["accuracy"]["all_60_bags_full_test"] = float(
            ls.accuracy_streamed(Xte_all, yte_all, fit.beta, lift_u))

    if args.exact:
        res["exact"] = bench_exact(args.exact_rows, args.exact_side)
    emit_schema(OUT, "least_squares", res, env)
    print(json.dumps(res, indent=1, sort_keys=True))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")) / 1024


def _measure(fn):
    """(seconds, result, peak RSS above the start in MB) of ``fn``, RSS sampled every 10 ms by a thread (in this
    process: a forked child can deadlock in OpenMP; large tensors are returned to the OS when freed)."""
    import gc
    import threading
    gc.collect()
    start, peak, stop = _rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.01)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    stop.set()
    th.join()
    return dt, out, max(peak[0], _rss_mb()) - start


def bench_exact(n_rows: int, side: int) -> dict:
    """Exact LS on ``n_rows`` Fashion-MNIST rows at ``side`` x ``side``: new path vs today's vs numpy.linalg.lstsq."""
    import numpy as np
    fm = datasets.fashion_mnist()
    rows = torch.randperm(60_000, generator=torch.Generator().manual_seed(0))[:n_rows]
    X = torch.from_numpy(fm.X_train)[rows]
    Y = ls.one_hot(torch.from_numpy(fm.y_train)[rows])
    Xte, yte = torch.from_numpy(fm.X_test[:2000]), torch.from_numpy(fm.y_test[:2000])
    pool = (lambda x: x) if side == 28 else (
        lambda x: torch.nn.functional.avg_pool2d(x[:, None].float() / 255, 28 // side)[:, 0])
    Pu = pf.conv_pair_table(side, side, unique=True)
    sc = pf.unique_pair_scale(Pu)
    lift = lambda x: pf.lift_conv2(pool(x), Pu, pair_scale=sc)  # noqa: E731
    env = {"load_before": os.getloadavg()[0]}

    def new():
        ne = ls.streamed_gram(ls.iter_chunks(X, Y, 2000), lift)
        sol = ls.solve_min_norm(ne)
        return dict(beta=sol.beta, gram_s=ne.seconds, solve_s=sol.seconds, solver=sol.solver, rank=sol.rank)

    def today():
        ne = ls.streamed_normal_equations(ls.iter_chunks(X, Y, 2000), lift)
        sol = ls.solve_normal_equations(ne, "eigh")
        return dict(beta=sol.beta, gram_s=ne.seconds, solve_s=sol.seconds, solver="eigh", rank=sol.rank)

    def lstsq():
        F = lift(X).double().numpy()
        b = np.linalg.lstsq(F, Y.double().numpy(), rcond=None)[0]
        return dict(beta=torch.from_numpy(b), solver="numpy.linalg.lstsq (gelsd)")

    out: dict = dict(rows=n_rows, side=side, p_unique=int(1 + side * side + Pu.shape[0]), seconds={}, peak_rss_mb={},
                     solver={}, test_accuracy={}, threads=torch.get_num_threads())
    betas = {}
    for name, fn in (("new", new), ("today", today), ("numpy_lstsq", lstsq)):
        dt, r, mb = _measure(fn)
        out["seconds"][name], out["peak_rss_mb"][name], out["solver"][name] = dt, mb, r["solver"]
        for k in ("gram_s", "solve_s", "rank"):
            if k in r:
                out.setdefault(k, {})[name] = r[k]
        betas[name] = r["beta"]
        out["test_accuracy"][name] = float(ls.accuracy_streamed(Xte, yte, r["beta"], lift))
    Ftr = lift(X[:2000]).double()
    out["max_abs_train_prediction_diff_new_vs_today"] = float((Ftr @ betas["new"] - Ftr @ betas["today"]).abs().max())
    out["max_abs_train_prediction_diff_new_vs_lstsq"] = float(
        (Ftr @ betas["new"] - Ftr @ betas["numpy_lstsq"]).abs().max())
    out["ratios"] = {"today / new": out["seconds"]["today"] / out["seconds"]["new"],
                     "numpy_lstsq / new": out["seconds"]["numpy_lstsq"] / out["seconds"]["new"],
                     "peak memory today / new": out["peak_rss_mb"]["today"] / max(out["peak_rss_mb"]["new"], 1e-9),
                     "peak memory numpy_lstsq / new": (out["peak_rss_mb"]["numpy_lstsq"]
                                                       / max(out["peak_rss_mb"]["new"], 1e-9))}
    env["load_after"] = os.getloadavg()[0]
    env["cpu_count"] = os.cpu_count()
    env["noisy"] = max(env["load_before"], env["load_after"]) / (os.cpu_count() or 1) > 0.5
    out["environment"] = env
    return out


if __name__ == "__main__":
    main()
