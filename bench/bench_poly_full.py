"""Benchmark: the two full-size polynomial-regression solves of thesis 000, §3.6, against their time targets.

* ``exact``: exact least squares (eq. 3.9) on all 60,000 Fashion-MNIST training images, quadratic features in the
  sqrt(2)-scaled unique-pair basis (10,155 columns, the same minimum-norm fit as the thesis's 18,741 ordered
  columns): one float64 ``syrk`` per chunk of 2,000 rows (``least_squares.streamed_gram``), then
  ``least_squares.solve_min_norm`` (Cholesky when the Gram is safely positive definite, else ``eigh``). Target:
  at most 4 minutes and 3 GB on the 2-core CPU. The Gram and the solve are timed separately (``extra``).
* ``bagging``: all 60 bags of 2,000 rows (``least_squares.bagged_least_squares``, unique basis), the bagged
  estimator of Figs 3.11-3.12. Target: at most 45 s on 2 threads.

Both record train/test accuracy and the solver used, so a speed-up that changed the answer would show.

``--baseline`` (opt-in, long: 25 minutes on 2 threads on a quiet machine, of which the previous path 13.4;
peak 8.5 GB; ``make bench`` does not pass it) adds, in the same run and with the same threads, two measured
baselines (and writes the plain records too, measured in the same run):

1. the previous path at full size: the ordered-pair basis (18,741 columns with the intercept),
   ``least_squares.streamed_normal_equations`` (an ``addmm`` Gram per chunk of 2,000 rows) and
   ``least_squares.solve_normal_equations(solver="eigh")``, as a baseline record of the ``exact`` kernel (ratio
   old / new of the whole path; the Gram and the solve of both paths timed separately in ``extra``); the two
   minimum-norm fits are the same function, so their train/test accuracies should agree to 0.01 % (``agreement``:
   both accuracies, the largest |score difference| on the test set, the test predictions that differ). Both
   solvers drop eigenvalues below ``p * eps * lambda_max`` of the same nonzero spectrum, but with p = 18,741
   against ~10,155, so eigenvalues between the two cutoffs (at the round-off level of the Gram) are kept by one
   and dropped by the other; ``agreement_at_baseline_cutoff`` (untimed) solves the new path again at the old
   cutoff and compares it with the old fit: that one must agree, or the run exits with status 1 after saving;
2. ``numpy.linalg.lstsq`` (rcond=None, after lifting the rows into one dense float64 matrix; the lift is timed)
   on the first 10,000 rows, against the new path on the same rows and the same unique basis (a kernel of its
   own, ``exact least squares, first 10,000 rows``): time ratio and the same agreement numbers (recorded, with
   both ranks). N = 10,000 < p = 10,155 is the interpolation peak: singular values of X reach 1e-8 * sigma_max,
   lstsq keeps every one above ``max(N, p) * eps * sigma_max`` (rank 10,000) while the normal equations can only
   resolve ``sigma > sqrt(p * eps) * sigma_max`` (~1.5e-6: rank 9,767), so the two minimum-norm fits differ
   (both interpolate; test accuracy 29.9 % against 14.0 % in the recorded run). A separate check (not in this
   script) found lstsq at ``rcond = sqrt(p * eps)`` gives rank 9,767 and the new path's fit (max |score
   difference| 3e-4, no test prediction changed).

Memory: the peak resident memory of each timed call, read as the Linux ``VmHWM`` after resetting it just before
the call (``Bench.point``; ``/proc/self/clear_refs``). It is the process's peak during that call alone, so it
includes what the process already held when the call started (the data, the libraries: ``rss_at_start_mb``).
Each path's Gram-phase peak is ``VmHWM`` read when its Gram is done; its solve-phase peak is the call's peak
when that is higher (it always is here: the solve holds the Gram and its factor / eigenvectors).
Usage: ``python bench/bench_poly_full.py [--threads 2] [--smoke] [--baseline]`` (``--smoke``: 6,000 rows of
14 x 14 pooled images, 4 bags, and, with ``--baseline``, a 2,000-row ``lstsq`` slice).
"""
from __future__ import annotations

import gc
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lib import least_squares as ls
from lib import polyfeatures as pf
from lib.book import benchmarks, datasets

from _common import Baseline, Bench

TOL = 1e-4          # 0.01 % (1 test image in 10,000): the accuracy agreement asked of two solvers of one fit


def rss_now_mb() -> float | None:
    """Resident memory of this process now (``VmRSS``, MiB); None off Linux."""
    try:
        m = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
        return round(int(m.group(1)) / 1024, 1) if m else None
    except OSError:
        return None


def main() -> int:
    b = Bench("poly_full", __doc__, threads=2,
              add_args=lambda ap: ap.add_argument(
                  "--baseline", action="store_true",
                  help="also time the previous path (ordered basis, addmm Gram + eigh) at full size and "
                       "numpy.linalg.lstsq on a 10,000-row slice, in the same run (about an hour, 8.5 GB)"))
    baseline = b.args.baseline
    fm = datasets.fashion_mnist()
    n, side, m = (6000, 14, 2000) if b.smoke else (60_000, 28, 10_000)   # m: the rows of the lstsq comparison
    X, y = torch.from_numpy(fm.X_train[:n]), torch.from_numpy(fm.y_train[:n])
    Xte, yte = torch.from_numpy(fm.X_test), torch.from_numpy(fm.y_test)
    if b.smoke:  # 14 x 14 average-pooled images (p = 2,343 < n): a check that the script runs, not the target size
        X, Xte = (torch.nn.functional.avg_pool2d(Z[:, None].float() / 255, 2)[:, 0] for Z in (X, Xte))
    Pu = pf.conv_pair_table(side, side, unique=True)
    scu = pf.unique_pair_scale(Pu)
    p = 1 + side * side + Pu.shape[0]

    def lift(x: torch.Tensor) -> torch.Tensor:
        return pf.lift_conv2(x, Pu, pair_scale=scu)

    def lift64(x: torch.Tensor) -> torch.Tensor:   # scoring for the agreement checks: float64 features
        return pf.lift_conv2(x, Pu, pair_scale=scu, dtype=torch.float64)

    kept: dict[str, Any] = {}                # each timed call's result and phase times, for the records below

    def new_path(Xr: torch.Tensor, yr: torch.Tensor, tag: str):
        def run() -> ls.MinNormSolution:
            ph: dict[str, Any] = {"rss_at_start_mb": rss_now_mb()}
            t0 = time.perf_counter()
            ne = ls.streamed_gram(ls.iter_chunks(Xr, ls.one_hot(yr, dtype=torch.float64), 2000), lift)
            t1 = time.perf_counter()
            ph["gram_peak_rss_mb"] = round(benchmarks.peak_rss_mb(), 1)   # since Bench.point's reset: the Gram
            sol = ls.solve_min_norm(ne)
            ph.update(gram_s=t1 - t0, solve_s=time.perf_counter() - t1)
            kept[tag], kept[tag + "_phases"] = sol, ph
            return sol
        return run

    def phases(ph: dict[str, Any], call_peak: float | None, prefix: str = "") -> dict[str, Any]:
        """The phase times and peaks of one call; the solve's peak is the call's when above the Gram's."""
        solve_peak = call_peak if call_peak is not None and call_peak > ph["gram_peak_rss_mb"] else None
        return {f"{prefix}gram_s": round(ph["gram_s"], 3), f"{prefix}solve_s": round(ph["solve_s"], 3),
                f"{prefix}rss_at_start_mb": ph["rss_at_start_mb"],
                f"{prefix}gram_peak_rss_mb": ph["gram_peak_rss_mb"], f"{prefix}solve_peak_rss_mb": solve_peak}

    failed: list[str] = []

    def agreement(what: str, beta_new: torch.Tensor, beta_old: torch.Tensor, lift_old, lift_old64,
                  Xtr: torch.Tensor, ytr: torch.Tensor, fatal: bool = True) -> dict[str, Any]:
        """Train / test accuracies of two fits (float32 features, as the records), the largest |score difference|
        on the test set and the test predictions that differ (float64 features). Recorded, not raised: a
        half-hour measurement is kept; a ``fatal`` disagreement makes the run exit non-zero after saving."""
        acc = {f"{k}_accuracy_{w}": float(ls.accuracy_streamed(Xs, ys, beta, lf))
               for k, Xs, ys in (("train", Xtr, ytr), ("test", Xte, yte))
               for w, beta, lf in (("new", beta_new, lift), ("baseline", beta_old, lift_old))}
        s_new, s_old = ls.scores_streamed(Xte, beta_new, lift64), ls.scores_streamed(Xte, beta_old, lift_old64)
        d_train = abs(acc["train_accuracy_new"] - acc["train_accuracy_baseline"])
        d_test = abs(acc["test_accuracy_new"] - acc["test_accuracy_baseline"])
        out = {**acc, "train_accuracy_diff": d_train, "test_accuracy_diff": d_test,
               "max_abs_score_diff_test": float((s_new - s_old).abs().max()),
               "max_abs_score_test": float(s_new.abs().max()),
               "test_predictions_differing": int((s_new.argmax(1) != s_old.argmax(1)).sum()),
               "tolerance": TOL, "within_tolerance": bool(max(d_train, d_test) <= TOL * (1 + 1e-9))}
        if not out["within_tolerance"]:
            if fatal:
                failed.append(what)
            print(f"[poly_full] WARNING: {what}: accuracies differ by more than {TOL:.2%} "
                  f"(train {d_train:.4%}, test {d_test:.4%})", file=sys.stderr, flush=True)
        return out

    # ---------------------------------------------------------------- exact least squares, all rows
    name = "exact least squares, all rows (syrk Gram + Cholesky/eigh)"
    base_list: list[Baseline] = []
    if baseline:
        Po = pf.conv_pair_table(side, side, unique=False)
        p_old = 1 + side * side + Po.shape[0]            # 18,741 at 28 x 28

        def lift_old(x: torch.Tensor) -> torch.Tensor:
            return pf.lift_conv2(x, Po)

        def lift_old64(x: torch.Tensor) -> torch.Tensor:
            return pf.lift_conv2(x, Po, dtype=torch.float64)

        def old_path() -> ls.ExactSolution:
            ph: dict[str, Any] = {"rss_at_start_mb": rss_now_mb()}
            t0 = time.perf_counter()
            ne = ls.streamed_normal_equations(ls.iter_chunks(X, ls.one_hot(y, dtype=torch.float64), 2000),
                                              lift_old)
            t1 = time.perf_counter()
            ph["gram_peak_rss_mb"] = round(benchmarks.peak_rss_mb(), 1)
            sol = ls.solve_normal_equations(ne, solver="eigh")
            ph.update(gram_s=t1 - t0, solve_s=time.perf_counter() - t1)
            kept["old_phases"] = ph
            return sol

        def check_old(new: ls.MinNormSolution, old: ls.ExactSolution) -> dict[str, Any]:
            kept["old_beta"], kept["old_rank"] = old.beta, old.rank
            return agreement("previous path", new.beta, old.beta, lift_old, lift_old64, X, y, fatal=False)

        base_list = [Baseline("none"),            # the plain cost record, the one a run without --baseline writes
                     Baseline("previous path: ordered basis, addmm Gram + eigh (streamed_normal_equations + "
                              "solve_normal_equations)", old_path, check=check_old)]

    rec = b.point(name, dict(N=n, p=p), new_path(X, y, "exact"), base_list, repeat=1, warmup=0,
                  flops=n * p * p + p**3 / 3, dtype="float64", note="target: <= 240 s and <= 3 GB on 2 cores")
    s = kept["exact"]
    assert isinstance(s, ls.MinNormSolution)
    lib_extra = dict(solver=s.solver, rank=s.rank, cond_est=s.cond_est,
                     train_accuracy=float(ls.accuracy_streamed(X, y, s.beta, lift)),
                     test_accuracy=float(ls.accuracy_streamed(Xte, yte, s.beta, lift)),
                     **phases(kept["exact_phases"], rec[0].peak_rss_mb))
    for r in rec:
        r.extra.update(lib_extra)
    if baseline:
        r = rec[1]
        old = phases(kept["old_phases"], r.baseline_peak_rss_mb, "baseline_")
        r.extra.update(old, p_baseline=p_old, gram_ratio=old["baseline_gram_s"] / lib_extra["gram_s"],
                       solve_ratio=old["baseline_solve_s"] / lib_extra["solve_s"],
                       memory="VmHWM reset before each call (clear_refs); includes the resident memory at its "
                              "start (rss_at_start_mb)")
        r.note = (f"baseline: the path before the syrk / unique-basis / Cholesky change, {p_old:,} columns, "
                  "measured in full in the same run")
        # The two eigh cutoffs differ (rcond = p * eps relative to lambda_max, p = 18,741 against the new path's
        # ~10,155 on the same nonzero spectrum: X_ordered = X_unique T^T with T^T T = I), so eigenvalues between
        # them are kept by one and dropped by the other. Untimed check that this, not the basis or the solver, is
        # any difference: the new path again, at the baseline's cutoff, against the baseline's fit.
        rc = p_old * torch.finfo(torch.float64).eps
        t0 = time.perf_counter()
        ne = ls.streamed_gram(ls.iter_chunks(X, ls.one_hot(y, dtype=torch.float64), 2000), lift)
        sm = ls.solve_min_norm(ne, rcond=rc)
        del ne
        r.extra["agreement_at_baseline_cutoff"] = {
            "rcond": rc, "rank_new": sm.rank, "rank_baseline": kept["old_rank"], "rank_new_default": s.rank,
            "seconds_untimed": round(time.perf_counter() - t0, 1),
            **agreement("new path at the previous path's cutoff", sm.beta, kept["old_beta"], lift_old, lift_old64,
                        X, y)}
        a, am = r.extra["agreement"], r.extra["agreement_at_baseline_cutoff"]
        print(f"[poly_full]   Gram {lib_extra['gram_s']:.1f} s vs {old['baseline_gram_s']:.1f} s "
              f"({r.extra['gram_ratio']:.2f}×), solve {lib_extra['solve_s']:.1f} s vs {old['baseline_solve_s']:.1f} s "
              f"({r.extra['solve_ratio']:.2f}×); peak {r.peak_rss_mb} MB vs {r.baseline_peak_rss_mb} MB; test "
              f"{a['test_accuracy_new']:.4f} vs {a['test_accuracy_baseline']:.4f}, max |Δscore| "
              f"{a['max_abs_score_diff_test']:.2e}, ranks {s.rank} vs {kept['old_rank']}; at the previous path's "
              f"cutoff: rank {am['rank_new']}, test {am['test_accuracy_new']:.4f}, max |Δscore| "
              f"{am['max_abs_score_diff_test']:.2e}", flush=True)
        del sm
    del s, rec
    kept.clear()
    gc.collect()

    # ---------------------------------------------------------------- numpy.linalg.lstsq on the first m rows
    if baseline:
        Xm, ym = X[:m], y[:m]

        def lstsq() -> tuple[torch.Tensor, int]:
            kept["lstsq_rss_at_start_mb"] = rss_now_mb()
            F = lift(Xm).to(torch.float64).numpy()      # the features the streamed Gram accumulates, held dense
            beta, _res, rank, _sv = np.linalg.lstsq(F, ls.one_hot(ym, dtype=torch.float64).numpy(), rcond=None)
            return torch.from_numpy(beta), int(rank)

        rec = b.point(f"exact least squares, first {m:,} rows (syrk Gram + Cholesky/eigh)", dict(N=m, p=p),
                      new_path(Xm, ym, "slice"),
                      [Baseline("numpy.linalg.lstsq (rcond=None) on the lifted rows", lstsq,
                                check=lambda new, old: {"rank_lstsq": old[1], **agreement(
                                    "lstsq", new.beta, old[0], lift, lift64, Xm, ym, fatal=False)})],
                      repeat=1, warmup=0, flops=m * p * p + p**3 / 3, dtype="float64",
                      note=f"baseline: lift of the {m:,} rows (float64, dense) + numpy.linalg.lstsq (LAPACK gelsd), "
                           "measured in full in the same run")
        s, r = kept["slice"], rec[0]
        r.extra.update(solver=s.solver, rank=s.rank, cond_est=s.cond_est,
                       memory="VmHWM reset before each call (clear_refs); includes the resident memory at its start",
                       baseline_rss_at_start_mb=kept["lstsq_rss_at_start_mb"],
                       **phases(kept["slice_phases"], r.peak_rss_mb))
        a = r.extra["agreement"]
        print(f"[poly_full]   {s.solver}, rank {s.rank} vs lstsq {a['rank_lstsq']}; peak {r.peak_rss_mb} MB vs "
              f"{r.baseline_peak_rss_mb} MB; "
              f"test {a['test_accuracy_new']:.4f} vs {a['test_accuracy_baseline']:.4f}, max |Δscore| "
              f"{a['max_abs_score_diff_test']:.2e}", flush=True)
        del s, r, rec
        kept.clear()
        gc.collect()

    # ---------------------------------------------------------------- bagging
    n_bags, B = (4, 500) if b.smoke else (60, 2000)   # smoke: B well below p (B near p is the double-descent peak)
    Y = ls.one_hot(y)

    def bag() -> ls.BaggedFit:
        kept["bag"] = fit = ls.bagged_least_squares(X, Y, lift, n_bags, B, torch.Generator().manual_seed(0),
                                                     bags_per_group=4)
        return fit

    rec = b.point("batched least squares, every bag of 2,000 (syrk dual)", dict(bags=n_bags, B=B, p=p), bag,
                  repeat=1, warmup=0, flops=n_bags * (B**2 * p + B**3 / 3), dtype="float32",
                  note="target: <= 45 s for 60 bags on 2 threads")
    fit = kept["bag"]
    assert isinstance(fit, ls.BaggedFit)
    rec[0].extra.update(test_accuracy=float(ls.accuracy_streamed(Xte, yte, fit.beta, lift)))
    b.save()
    if failed:
        print(f"[poly_full] accuracies disagree beyond {TOL:.2%}: {', '.join(failed)} (recorded)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
