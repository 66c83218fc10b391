"""Depth separation by the zig-zag ("hard") family of thesis Ch. 2 (document 003, §2.3.1, L500–L545).

Used by the chapter ``relu_function_spaces``. The family is H_{a^1..a^k} = h_{a^k} ∘ … ∘ h_{a^1} (Def 5, L522;
built exactly by :mod:`lib.relu_constructions`). Lemma 2.3.5 / Thm 2.3.2 say H has w^k pieces in [0, M], each
sweeping [0, M], and is a (k+1)-layer net of width w; Thm 2.3.1 says any (k'+1)-layer net for it has size at least
½k'w^{k/k'} − 1; Cor 2.3.4 instantiates w = k, k² layers, and Cor 2.3.3 takes k^{1+ε} layers. This module draws
random members and measures all of that exactly (piece counts by exact composition, nets compared with H exactly).

* :func:`hard_family_sample` — random members checked by :func:`lib.relu_constructions.check_hard_member`.
* :func:`zigzag_w2_counts` — exact piece counts of width-2 compositions up to large k (2^k pieces in [0, 1]).
* :func:`cor234_check` — the w = k, k²-layer net of Cor 2.3.4: depth, size, pieces and the Thm 2.3.1 bound.
* :func:`thm231_table` — the Thm 2.3.1 bound against the exact Lemma 2.A.6 minimum and explicit shallower nets.
* :func:`cor233_bound` — Cor 2.3.3's bound, as Thm 2.3.1 gives it and as printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .relu_constructions import (
    HardMemberCheck,
    check_hard_member,
    grouped_zigzag_net,
    min_size_for_pieces,
    pwl_mismatch,
    thm231_size_bound,
    zigzag_compose_pwl,
    zigzag_net,
    zigzag_pwl,
)

__all__ = ["hard_family_sample", "zigzag_w2_counts", "cor234_check", "thm231_table", "cor233_bound"]


def hard_family_sample(k_of_w: Mapping[int, int], rng: np.random.Generator) -> list[HardMemberCheck]:
    """Random members of the hard family (Lemma 2.3.5, Thm 2.3.2, L506–L538): for each width w and k = 1..k_of_w[w],
    M ~ U(0.5, 3) and k sorted vectors of w − 1 points ~ U(0, M), each checked exactly by
    :func:`lib.relu_constructions.check_hard_member` (counts, full-range pieces, the net against H)."""
    fam = []
    for w, K in k_of_w.items():
        for k in range(1, K + 1):
            M = float(rng.uniform(0.5, 3))
            fam.append(check_hard_member([np.sort(rng.uniform(0, M, w - 1)) for _ in range(k)], M))
    return fam


def zigzag_w2_counts(k_max: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Width-2 members H_k = h_{a^k} ∘ … ∘ h_{(½)} (M = 1, a^i ~ U(0.2, 0.8) for i ≥ 2), composed one layer at a time.
    -> rows (k, exact pieces in [0, 1], exact pieces on R), k = 1..k_max; Lemma 2.3.5 says 2^k in [0, 1]."""
    H = zigzag_pwl([0.5])
    rows = []
    for k in range(1, k_max + 1):
        if k > 1:
            H = zigzag_pwl([float(rng.uniform(0.2, 0.8))]).compose(H)
        rows.append((k, H.pieces_in(0, 1), H.num_pieces()))
    return rows


def cor234_check(k: int, rng: np.random.Generator) -> dict:
    """Cor 2.3.4 (L518): the zig-zag with w = k and k² layers (a^i ~ sorted U(0, 1)^{k−1}, M = 1) as a net.
    -> dict(depth, nodes = size, pieces in [0, 1] (exact), bound = Thm 2.3.1's size bound for k hidden layers);
    the corollary says depth k² + 1, k³ nodes, k^{k²} pieces, bound ½k^{k+1} − 1."""
    a_list = [np.sort(rng.uniform(0, 1, k - 1)) for _ in range(k * k)]
    net = zigzag_net(a_list, 1.0)
    return dict(depth=net.depth, nodes=net.size, pieces=zigzag_compose_pwl(a_list, 1.0).pieces_in(0, 1),
                bound=thm231_size_bound(k, k, k * k))


def thm231_table(wk: Sequence[tuple[int, int]], rng: np.random.Generator) -> list[dict]:
    """Thm 2.3.1 (L500) on random hard functions: for each (w, k) in ``wk`` one H (k sorted U(0, 1)^{w−1} vectors,
    M = 1, all drawn first), and for every k' ∈ {1, 2, k/2, k} dividing k a row with the exact pieces of H in
    [0, 1], the printed bound ½k'w^{k/k'} − 1, the exact Lemma 2.A.6 minimum size for w^k pieces, the size and
    hidden layers of an explicit (k'+1)-layer net for H (:func:`lib.relu_constructions.grouped_zigzag_net`), its
    exact error ``err`` (:func:`lib.relu_constructions.pwl_mismatch`), and ``ok``: w^k pieces, k' hidden layers,
    err < 1e-6 (round-off; a wrong net errs by O(1)) and bound ≤ minimum ≤ construction."""
    a_by = {(w, k): [np.sort(rng.uniform(0, 1, w - 1)) for _ in range(k)] for (w, k) in wk}
    rows = []
    for (w, k), a_list in a_by.items():
        H = zigzag_compose_pwl(a_list, 1.0)
        for kp in sorted({1, 2, k // 2, k}):
            if k % kp:
                continue
            gnet = grouped_zigzag_net(a_list, 1.0, kp)
            r = dict(w=w, k=k, k_shallow=kp, pieces_01=H.pieces_in(0, 1), bound=thm231_size_bound(kp, w, k),
                     min_size=min_size_for_pieces(w**k, kp, s_max=2 * w**k + 2), construction=gnet.size,
                     hidden=gnet.hidden_layers, err=pwl_mismatch(gnet.to_pwl(), H))
            r["ok"] = bool(r["pieces_01"] == w**k and r["hidden"] == kp and r["err"] < 1e-6
                           and r["bound"] <= r["min_size"] <= r["construction"])
            rows.append(r)
    return rows


def cor233_bound(k: int, eps: float, printed: bool = False) -> float:
    """Cor 2.3.3 (L514): a (k+1)-layer net for the width-k, k^{1+ε}-layer hard function needs size ≥ ½k·k^{k^ε} − 1
    (Thm 2.3.1 with w = k and k^{1+ε} layers); ``printed=True`` gives the thesis's ½k·k^ε − 1."""
    return 0.5 * k * k**eps - 1 if printed else 0.5 * k * k ** (k**eps) - 1
