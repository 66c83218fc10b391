"""Benchmark: how the cost of the two main kernels grows with the work, library and baseline, in one run.

Short series (seconds each) for the performance appendix's log–log plots and fitted exponents:

1. ``teacher_student`` — the batched engine (``lib.teacher_student.train``, all students as one tensor program) and
   the per-model ``torch.optim`` loop of ``bench_teacher_student.py``, against the number of models, at the quick
   dimensions (d = m = 5, N = 200) and ``--epochs`` full-batch Adam steps. The loop runs every model of its points.
2. ``gram`` — the dual min-norm solve (``lib.least_squares.min_norm_dual``: B×B Gram in float32 + Cholesky) and
   ``torch.linalg.lstsq(driver="gelsd")`` in float64, against the bag size B at p = 10,155 (the unique-pair
   lifting of 28×28 images) and against p at fixed B. Random data: the cost of both does not depend on the values.

Every point is a :class:`lib.book.benchmarks.BenchResult` (min / median / max of the repeats, load before and
after) in ``bench/results/scaling.json``; under load they are recorded as noisy.

Usage: python bench/bench_scaling.py [--threads 1] [--epochs 100] [--only teacher_student|gram]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_teacher_student import make_problem, run_loop  # noqa: E402

from lib import least_squares as ls  # noqa: E402
from lib import teacher_student as ts  # noqa: E402

from _common import environment, result, save_results, time_repeats, warn_if_loaded  # noqa: E402

TS_DIMS = dict(d=5, m=5, N=200, n_test=200)


def ts_series(epochs: int, models: list[int], loop_models: list[int], repeat: int) -> list:
    env = environment("cpu")
    warn_if_loaded(env)
    out = []
    for B in sorted(set(models) | set(loop_models)):
        K = min(4, B)
        c = dict(TS_DIMS, K=K, T=B // K, epochs=epochs)
        W0, X, Y, Xt, Yt = make_problem(c, "cpu")
        work = dict(models=B, N=c["N"], d=c["d"], m=c["m"], epochs=epochs)
        flops = 6.0 * c["N"] * c["d"] * c["m"] * B * epochs
        lib_t, _ = time_repeats(lambda W0=W0, X=X, Y=Y: ts.train(W0, X, Y, optimizer="adam", lr=0.02, epochs=epochs),
                                repeat=repeat, warmup=1)
        base_t = None
        if B in loop_models:
            run_loop(c, W0, X, Y, Xt, Yt, n_models=1)  # warm-up: first module, optimiser and autograd graph
            base_t, _ = time_repeats(lambda c=c, W0=W0, X=X, Y=Y, Xt=Xt, Yt=Yt: run_loop(c, W0, X, Y, Xt, Yt),
                                     repeat=2 if B <= 4 else 1)
        out.append(result(env, topic="scaling", kernel="batched teacher–student engine (teacher_student.train)",
                          baseline="per-model torch.optim loop", work=work, lib_s=lib_t,
                          baseline_s=base_t, config="series: models",
                          measured_or_extrapolated="measured" if base_t is not None else "not recorded",
                          flops=flops, dtype="float32"))
        env = {**env, "load_before": out[-1].load_after}
    return out


def gram_series(Bs: list[int], ps: list[int], p0: int, B0: int, gelsd_max_B: int, repeat: int) -> list:
    env = environment("cpu")
    warn_if_loaded(env)
    g = torch.Generator().manual_seed(0)
    out = []
    for B, p, series in [(B, p0, "series: bag size B") for B in Bs] + [(B0, p, "series: features p") for p in ps]:
        X = torch.randn(1, B, p, generator=g)
        Y = torch.randn(1, B, 10, generator=g)
        lib_t, _ = time_repeats(lambda X=X, Y=Y: ls.min_norm_dual(X, Y), repeat=repeat, warmup=1)
        base_t = None
        if series.endswith("B") and B <= gelsd_max_B:
            Xd, Yd = X[0].double(), Y[0].double()
            base_t, _ = time_repeats(lambda Xd=Xd, Yd=Yd: torch.linalg.lstsq(Xd, Yd, driver="gelsd"),
                                     repeat=2 if B <= 500 else 1, warmup=1 if B <= 250 else 0)
        out.append(result(env, topic="scaling", kernel="dual min-norm solve (B×B Gram + Cholesky)",
                          baseline="torch.linalg.lstsq (gelsd, SVD)", work=dict(B=B, p=p), lib_s=lib_t,
                          baseline_s=base_t, config=series,
                          measured_or_extrapolated="measured" if base_t is not None else "not recorded",
                          flops=2.0 * B * B * p + B**3 / 3 + 2.0 * B * p * 10, dtype="float32"))
        env = {**env, "load_before": out[-1].load_after}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["teacher_student", "gram"])
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    res = []
    if a.only in (None, "teacher_student"):
        res += ts_series(a.epochs, models=[4, 16, 64, 256, 1024], loop_models=[1, 2, 4, 8, 16], repeat=a.repeat)
    if a.only in (None, "gram"):
        res += gram_series(Bs=[125, 250, 500, 1000, 2000], ps=[2500, 5000, 10155, 20000], p0=10155, B0=1000,
                           gelsd_max_B=1000, repeat=a.repeat)
    save_results("scaling", res, {"what": __doc__.splitlines()[0]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
