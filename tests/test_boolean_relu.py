"""Tests of lib.boolean_relu: constructions exact on all 2^n inputs."""
import numpy as np
import pytest

from lib.boolean_relu import (
    andreev,
    boolean_cube,
    claim1_tail,
    eval_sum_of_relu,
    ltf_2relu,
    parity_relu,
    prop253_net,
    restriction_not_forced_mc,
    sum_of_relu_fourier,
    sum_of_relu_vertex,
    walsh_hadamard,
)

RNG = np.random.default_rng(0)


def test_walsh_hadamard_brute_force():
    n = 5
    X = boolean_cube(n).astype(float)
    f = RNG.normal(size=2**n)
    fh = walsh_hadamard(f)
    for S in range(2**n):
        chi = np.prod(np.where(((S >> np.arange(n)) & 1).astype(bool), X, 1.0), axis=1)
        assert fh[S] == pytest.approx(np.mean(f * chi), abs=1e-12)


@pytest.mark.parametrize("n", [1, 3, 6, 10])
def test_vertex_and_fourier_constructions(n):
    X = boolean_cube(n).astype(float)
    f = RNG.normal(size=2**n) * (RNG.random(2**n) < 0.5)
    v = sum_of_relu_vertex(f, n)
    assert np.abs(eval_sum_of_relu(v, X) - f).max() < 1e-9
    assert v[0].shape[0] == np.count_nonzero(f)
    # sparse Fourier function
    fh = np.zeros(2**n)
    idx = RNG.choice(2**n, size=min(5, 2**n), replace=False)
    fh[idx] = RNG.normal(size=idx.size)
    g = boolean_cube(n).astype(float)
    chis = np.array([np.prod(np.where(((S >> np.arange(n)) & 1).astype(bool), g, 1.0), axis=1) for S in range(2**n)])
    fs = fh @ chis
    F = sum_of_relu_fourier(fs, n)
    assert np.abs(eval_sum_of_relu(F, g) - fs).max() < 1e-9
    assert F[0].shape[0] == sum(bin(S).count("1") for S in idx if S != 0 and fh[S] != 0)


@pytest.mark.parametrize("k", [1, 2, 5, 12, 20])
def test_parity_k_gates(k):
    y = np.arange(k + 1, dtype=float)
    p, c = parity_relu(k)
    assert p.size == k
    assert np.array_equal(np.maximum(y[:, None] - p, 0) @ c, y % 2)


def test_parity_on_cube_k20():
    k = 20
    bits = ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(np.float32)
    y = bits.sum(1)
    p, c = parity_relu(k)
    out = np.zeros_like(y)
    for pj, cj in zip(p, c):
        out += cj * np.maximum(y - pj, 0)
    assert np.array_equal(out, y % 2)


def test_ltf_and_prop253():
    for n in (3, 8, 12):
        X = boolean_cube(n).astype(float)
        a, b = RNG.normal(size=n), RNG.normal()
        ltf = 2.0 * (X @ a + b >= 0) - 1
        circ = ltf_2relu(a, b)
        assert circ[0].shape[0] <= 2 and np.abs(eval_sum_of_relu(circ, X) - ltf).max() < 1e-9
        f = ((1 + X) / 2) @ (2.0 ** np.arange(1, n + 1))
        assert np.abs(eval_sum_of_relu(prop253_net(n), X) - f).max() < 1e-9
        assert np.unique(f).size == 2**n


def test_claim1_and_andreev():
    exact, bound = claim1_tail(8, np.linspace(0.01, 0.3, 30))
    assert np.all(exact <= bound)
    rng = np.random.default_rng(1)
    k = 3
    r, c = k, 2**k // k
    x = rng.integers(0, 2, size=(1, 2**k))
    A = rng.integers(0, 2, size=(1, r, c))
    z = A.sum(2) % 2
    assert andreev(x, A)[0] == x[0, int((z[0] << np.arange(r)).sum())]
    p = restriction_not_forced_mc(np.ones(64), -32.0, 4, 2000, rng)
    assert 0 < p < 1


def test_cone_points_and_block_structure():
    from lib.boolean_relu import cone_integer_points, contiguous_blocks, restricted_circuit
    rng = np.random.default_rng(3)
    m, W = 3, 2
    c1, c2 = rng.normal(size=m), rng.normal(size=m)
    P = cone_integer_points(c1, W)
    X = boolean_cube(m).astype(float)
    order = np.argsort(X @ c1)
    assert len(P) > 1 and np.all(np.diff(X[order] @ P.T, axis=0) >= 0)
    # brute force membership for a few random integer vectors
    for w in rng.integers(-W, W + 1, size=(50, m)):
        inside = np.all(np.diff(X[order] @ w) >= 0)
        assert inside == any(np.array_equal(w, p) for p in P)
    circ = restricted_circuit(m, W, [3, 2], rng, c1, c2)
    for G in circ["layers"][0]:
        r, c = contiguous_blocks(G)
        assert r <= m * W + 1 and c <= m * W + 1
    assert contiguous_blocks(np.array([[1, 1], [1, 1], [2, 2]])) == (2, 1)


def test_restriction_not_forced_many_against_exact_enumeration():
    import itertools

    from lib.boolean_relu import restriction_not_forced_many
    rng = np.random.default_rng(5)
    n, parts = 8, 4
    A = np.vstack([np.ones(n), rng.normal(size=n), rng.integers(-3, 4, size=n).astype(float)])
    b = np.array([0.0, 0.3, 1.0])
    exact = np.zeros(3)
    combos = 0
    for free in itertools.product(range(2), repeat=parts):               # one free coordinate per part of size 2
        fidx = np.array(free) + 2 * np.arange(parts)
        mask = np.zeros(n, bool)
        mask[fidx] = True
        for x in itertools.product((-1.0, 1.0), repeat=n):
            x = np.array(x)
            const = A @ np.where(mask, 0.0, x) + b
            exact += np.abs(const) < np.abs(A[:, mask]).sum(1)
            combos += 1
    exact /= combos
    R = 20_000
    est = restriction_not_forced_many(A, b, parts, R, rng)
    se = np.sqrt(exact * (1 - exact) / R)
    assert np.all(np.abs(est - exact) <= 5 * se + 1e-12)
    with pytest.raises(ValueError, match="must divide"):
        restriction_not_forced_many(A[:, :7], b, parts, 10, rng)


# ---------------------------------------------------------------------------------------- checks of §2.5-2.6, App. 2.E
@pytest.mark.parametrize("kind", ["sparse Fourier", "degree ≤ 2"])
def test_random_boolean_function_spectrum(kind):
    """Oracle: the Walsh–Hadamard transform of the drawn f has ≤ 6 non-zero coefficients (of degree ≤ 2 when asked),
    and f agrees with the literal sum Σ_S f̂(S) ∏_{i∈S} x_i evaluated point by point."""
    from lib.boolean_relu import random_boolean_function

    n = 6
    f = random_boolean_function(kind, n, np.random.default_rng(1))
    fh = walsh_hadamard(f)
    S_nz = np.nonzero(np.abs(fh) > 1e-12)[0]
    assert 1 <= S_nz.size <= 6
    if kind == "degree ≤ 2":
        assert all(bin(S).count("1") <= 2 for S in S_nz)
    X = boolean_cube(n)
    lit = [sum(fh[S] * np.prod([X[r, i] for i in range(n) if S >> i & 1]) for S in S_nz) for r in range(2**n)]
    assert np.allclose(f, lit, atol=1e-12)
    with pytest.raises(ValueError, match="accepted values"):
        random_boolean_function("dense", n, np.random.default_rng(1))


def test_lemma251_survey_gate_counts():
    from lib.boolean_relu import lemma251_survey

    rows = lemma251_survey(range(2, 7), np.random.default_rng(2))
    assert len(rows) == 15 and all(r.ok for r in rows)
    for r in rows:
        if r.kind == "random":
            assert r.vertex_gates == 2**r.n                                # generic values: every vertex is a gate
        if r.kind == "degree ≤ 2":
            assert r.fourier_gates <= 2 * 6                                # ≤ 6 characters of ≤ 2 bits


def test_parity_ltf_prop253_checks():
    from lib.boolean_relu import ltf_check, parity_check, prop253_check

    assert parity_check(k_max=8, k_all=10)
    assert ltf_check(range(2, 9), np.random.default_rng(3)) and prop253_check(range(2, 9))


def test_andreev_restriction_check():
    from lib.boolean_relu import andreev_restriction_check

    assert andreev_restriction_check((3, 4), 30, np.random.default_rng(4))


def test_kane_williams_majority_against_binomial():
    """Oracle: for MAJORITY with |P| parts of one free bit, the gate is not forced iff |Σ fixed| < |P|, a sum of n − |P|
    Rademacher variables; its exact probability is a binomial sum. The Monte Carlo estimate is within 5 s.e."""
    from scipy.stats import binom

    from lib.boolean_relu import kane_williams_survey, kw_band, kw_trend

    R, ns, parts = 20_000, [64, 256], (4, 16)
    kw = kane_williams_survey(ns, parts, R, [np.random.default_rng(5), np.random.default_rng(6)])
    assert kw.shape == (2 * 2 * 2 * 2, 5) and np.all((kw[:, 4] >= 0) & (kw[:, 4] <= 1))
    for row in kw[kw[:, 1] == 0]:
        n, P = int(row[2]), int(row[3])
        j = np.arange(n - P + 1)                                  # number of +1 among the fixed bits
        exact = binom.pmf(j, n - P, 0.5)[np.abs(2 * j - (n - P)) < P].sum()
        assert abs(row[4] - exact) < 5 * np.sqrt(exact * (1 - exact) / R)
    band = kw_band(kw)
    assert band == pytest.approx(kw[:, 4] * np.sqrt(kw[:, 2]) / kw[:, 3])
    sel = (kw[:, 0] == 1) & (kw[:, 1] == 0)
    hand = band[sel & (kw[:, 2] == 256)].mean() / band[sel & (kw[:, 2] == 64)].mean()
    assert kw_trend(kw, 1, 0, 256, 64) == pytest.approx(hand)


def test_block_structure_survey_and_natural_order():
    from lib.boolean_relu import block_structure_survey, natural_order

    rows, ex = block_structure_survey((3, 4), (2,), ([4], [4, 3]), np.random.default_rng(7), example=(4, 2, 3))
    assert len(rows) == 4 and all(r.ok for r in rows) and ex is not None
    assert [r.recursion for r in rows[:2]] == [1 + 4 * 6, 1 + 3 * (4 * 6)]   # B − 1 = w_j (B − 1), from mW + 1 = 7
    # natural_order undoes the sorting of rows by ⟨c1, x⟩ and columns by ⟨c2, y⟩ (oracle: a matrix built naturally)
    rng = np.random.default_rng(8)
    X = boolean_cube(4).astype(float)
    c1, c2 = rng.normal(size=4), rng.normal(size=4)
    M = X @ rng.normal(size=(4, 4)) @ X.T
    assert np.array_equal(natural_order(M[np.argsort(X @ c1)][:, np.argsort(X @ c2)], c1, c2), M)
