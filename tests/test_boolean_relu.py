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
