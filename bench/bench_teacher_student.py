"""Benchmark: the batched teacher–student engine vs the per-model torch.optim loop the thesis would have written.

Work: Algorithm 1 of Emschwiller (2020) — K teachers, T random restarts each on the teacher's data, full-batch
Adam (lr 0.02) for E epochs on the mean squared loss, then the test R^2 of every student.

- ``loop``: for each teacher, for each restart, an ``nn.Module`` (bias-free Linear + ReLU + 1/sqrt(m) sum) trained
  with ``torch.optim.Adam``: the obvious PyTorch program, one model at a time.
- ``batched``: one call of ``lib.teacher_student.train`` on all K*T students (data shared by views).

Both start from the same initial weights; the script checks that they end at the same losses.  Peak memory: a child
process runs only that method and samples its resident set every millisecond; reported is the peak above the
resident set just before the run (torch and the data already loaded).
Results: bench/results/teacher_student.json (written atomically).

Usage: python bench/bench_teacher_student.py [--config quick|paper] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lib import teacher_student as ts  # noqa: E402

from _common import emit_schema, environment  # noqa: E402

CONFIGS = {
    # the chapter's typical training call at quick scale: d = m = 5 is the thesis's main setting
    "quick": dict(K=4, T=25, d=5, m=5, N=200, n_test=1000, epochs=300),
    # one Algorithm 1 call of the paper-scale sweeps: 10 teachers x 100 restarts (thesis: T = 100)
    "paper": dict(K=10, T=100, d=10, m=10, N=500, n_test=1000, epochs=300),
}


def make_problem(c: dict, device: str, seed: int = 0):
    g = torch.Generator(device=device).manual_seed(seed)
    Ws = ts.sample_teachers(c["K"], c["d"], c["m"], generator=g)
    X = ts.gaussian_inputs(c["K"], c["N"], c["d"], generator=g)
    Xt = ts.gaussian_inputs(c["K"], c["n_test"], c["d"], generator=g)
    W0 = ts.sample_teachers(c["K"] * c["T"], c["d"], c["m"], generator=g)
    return W0, X, ts.relu_net(Ws, X), Xt, ts.relu_net(Ws, Xt)


class Student(torch.nn.Module):
    """f(x) = m^-1/2 sum_j relu(w_j . x): eq. 2.1 as a user would write it."""

    def __init__(self, W: torch.Tensor):
        super().__init__()
        self.lin = torch.nn.Linear(W.shape[0], W.shape[1], bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(W.T)

    def forward(self, x):
        return torch.relu(self.lin(x)).sum(-1) / math.sqrt(self.lin.out_features)


def run_loop(c, W0, X, Y, Xt, Yt, n_models: int | None = None):
    """Per-model torch.optim loop; returns (seconds, test R^2 of the models run)."""
    T = c["T"]
    n = W0.shape[0] if n_models is None else n_models
    out = []
    sync(W0)
    t = time.perf_counter()
    for b in range(n):
        k = b // T
        net = Student(W0[b]).to(W0.device)
        opt = torch.optim.Adam(net.parameters(), lr=0.02)
        for _ in range(c["epochs"]):
            opt.zero_grad()
            loss = ((net(X[k]) - Y[k]) ** 2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out.append(ts.r2(net(Xt[k]), Yt[k]))
    sync(W0)
    return time.perf_counter() - t, torch.stack(out)


def run_batched(c, W0, X, Y, Xt, Yt):
    sync(W0)
    t = time.perf_counter()
    res = ts.train(W0, X, Y, optimizer="adam", lr=0.02, epochs=c["epochs"], X_test=Xt, Y_test=Yt)
    sync(W0)
    return time.perf_counter() - t, res.test_r2


def sync(x):
    if x.device.type == "cuda":
        torch.cuda.synchronize()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(method: str, config: str, device: str, threads: int) -> None:
    """Run one method in this process; print JSON with its peak resident memory above the RSS just before the
    run (sampled every millisecond by a thread) and, on CUDA, the peak allocated GPU memory."""
    import threading

    torch.set_num_threads(threads)
    c = CONFIGS[config]
    prob = make_problem(c, device)
    base = _rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = 0.0
    if method == "batched":
        t, _ = run_batched(c, *prob)
    elif method == "loop":
        t, _ = run_loop(c, *prob, n_models=min(prob[0].shape[0], 20))
    stop.set()
    th.join()
    peak_gpu = torch.cuda.max_memory_allocated() if device == "cuda" else None
    print(json.dumps({"peak_rss_above_start_bytes": peak[0] - base, "s": t, "cuda_peak_bytes": peak_gpu}))


def peak_mb(method: str, config: str, device: str, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, __file__, "--child", method, "--config", config, "--device", device,
                          "--threads", str(threads)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loop-models", type=int, default=0,
                    help="time the loop on this many models and extrapolate (0: all)")
    ap.add_argument("--child", choices=["batched", "loop"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "teacher_student.json"))
    a = ap.parse_args()
    if a.child:
        child(a.child, a.config, a.device, a.threads)
        return
    torch.set_num_threads(a.threads)
    env = environment(a.device)
    c = CONFIGS[a.config]
    prob = make_problem(c, a.device)
    B = prob[0].shape[0]
    run_batched(c, *prob)  # warm-up (allocator, kernels)
    t_b, r2_b = min((run_batched(c, *prob) for _ in range(3)), key=lambda x: x[0])
    n_loop = B if a.loop_models == 0 else min(a.loop_models, B)
    t_l, r2_l = run_loop(c, *prob, n_models=n_loop)
    t_l_all = t_l * B / n_loop
    diff = (r2_b[:n_loop].cpu() - r2_l.cpu()).abs().max().item()
    mem = {m: peak_mb(m, a.config, a.device, a.threads) for m in ("batched", "loop")}
    res = {
        "benchmark": "teacher_student",
        "what": "Algorithm 1: K teachers x T restarts, full-batch Adam (lr 0.02), test R^2 of every student",
        "config": a.config, **c, "models": B,
        "device": a.device,
        "device_name": (torch.cuda.get_device_name() if a.device == "cuda"
                        else platform.processor() or platform.machine()),
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "batched_s": round(t_b, 4),
        "loop_s": round(t_l_all, 3),
        "loop_models_timed": n_loop,
        "loop_extrapolated": n_loop < B,
        "speedup": round(t_l_all / t_b, 1),
        "models_x_steps_per_s_batched": round(B * c["epochs"] / t_b),
        "models_x_steps_per_s_loop": round(B * c["epochs"] / t_l_all),
        "max_abs_diff_test_r2": diff,
        # the tensors of one batched step: pre-activations, ReLU mask and its per-model copy (K*N*T*m each), X*g
        "batched_step_working_set_mb": round(
            (3 * c["K"] * c["N"] * c["T"] * c["m"] + B * c["N"] * c["d"]) * 4 / 2**20, 2),
        "peak_rss_mb_during_run": {"batched": round(mem["batched"]["peak_rss_above_start_bytes"] / 2**20, 1),
                                   "loop (20 models)": round(mem["loop"]["peak_rss_above_start_bytes"] / 2**20, 1)},
    }
    if a.device == "cuda":
        res["cuda_peak_mb_batched"] = round(mem["batched"]["cuda_peak_bytes"] / 2**20, 1)
    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.exists() else {}
    key = f"{a.config}_{a.device}_{torch.get_num_threads()}threads"
    doc[key] = res
    emit_schema(out, "teacher_student", doc, env, only=(key,))
    print(f"[{a.config}, {a.device}, {res['torch_threads']} threads, load {res['load_average_1min']:.1f}] "
          f"{B} models x {c['epochs']} steps: loop {t_l_all:.2f} s"
          f"{' (extrapolated from ' + str(n_loop) + ')' if n_loop < B else ''}, batched {t_b:.3f} s "
          f"-> {res['speedup']}x; max |ΔR²| = {diff:.2e}; peak RSS {res['peak_rss_mb_during_run']}")


if __name__ == "__main__":
    main()
