"""lib.book.runtime: scales, devices, generators, provenance."""
import numpy as np
import pytest
import torch

from lib.book import runtime


def test_scales_and_pick():
    assert runtime.check_scale("quick") == "quick"
    assert runtime.pick("quick", quick=1, paper=2) == 1
    assert runtime.pick("paper", quick=1, paper=2) == 2


@pytest.mark.parametrize("bad", ["fast", "", "Quick", "full"])
def test_unknown_scale_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"scale=.*accepted values: quick, paper"):
        runtime.check_scale(bad)
    with pytest.raises(ValueError, match="accepted values"):
        runtime.start_chapter("x", scale=bad)


def test_devices():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    auto = runtime.resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match=r"device='tpu'.*accepted values: auto, cpu, cuda"):
        runtime.resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        runtime.start_chapter("x", device="cuda")


def test_generators_are_explicit_and_reproducible():
    a = torch.randn(5, generator=runtime.torch_generator(3))
    torch.manual_seed(12345)  # the global seed must not matter
    b = torch.randn(5, generator=runtime.torch_generator(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.randn(5, generator=runtime.torch_generator(4)))
    assert np.array_equal(runtime.numpy_rng(7).normal(size=3), runtime.numpy_rng(7).normal(size=3))


def test_chapter_context_and_provenance():
    ch = runtime.start_chapter("my_chapter", scale="paper", seed=5, device="cpu")
    assert ch.pick(quick="q", paper="p") == "p"
    assert torch.equal(torch.rand(3, generator=ch.generator("a")), torch.rand(3, generator=ch.generator("a")))
    prov = ch.provenance()
    for key in ("chapter", "scale", "seed", "device", "device_name", "commit", "dirty", "versions", "wall_time_s"):
        assert key in prov
    assert prov["chapter"] == "my_chapter" and prov["scale"] == "paper" and prov["seed"] == 5
    assert prov["versions"]["torch"] in torch.__version__
    assert "scale paper" in ch.stamp() and "seed 5" in ch.stamp()


@pytest.mark.parametrize("slug,seed", [("", 0), ("a b", 0), ("ok", 1.5), ("ok", True)])
def test_bad_chapter_arguments(slug, seed):
    with pytest.raises(ValueError, match="accepted values"):
        runtime.start_chapter(slug, seed=seed)


def test_set_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert runtime.set_threads(1) == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert runtime.set_threads() == 1
        with pytest.raises(ValueError, match="threads"):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(before)


def _draws(seed: int, name: str, slug: str = "ch") -> np.ndarray:
    ch = runtime.start_chapter(slug, scale="quick", seed=seed, device="cpu")
    return np.concatenate([ch.rng(name).random(64), torch.rand(64, generator=ch.generator(name)).numpy()])


def test_named_streams_are_reproducible_and_independent():
    """The same (seed, chapter, name) gives the same stream; seeds s and s+1 share no stream under any names —
    in particular not the ``seed + offset`` overlap (seed 1's stream 1 == seed 0's stream 2)."""
    assert np.array_equal(_draws(0, "fig-2.7"), _draws(0, "fig-2.7"))
    names = ["0", "1", "2", "3", "fig-2.7", "main"]
    seed0 = {n: _draws(0, n) for n in names}
    seed1 = {n: _draws(1, n) for n in names}
    for a in names:
        for b in names:
            assert not np.array_equal(seed0[a], seed1[b]), (a, b)
            if a != b:
                assert not np.array_equal(seed0[a], seed0[b]), (a, b)
    # integer names are the string names; other chapters get other streams
    ch = runtime.start_chapter("ch", scale="quick", seed=0, device="cpu")
    assert np.array_equal(ch.rng(3).random(4), ch.rng("3").random(4))
    assert not np.array_equal(_draws(0, "main", "ch"), _draws(0, "main", "other"))
    # independent in distribution too: the correlation of two streams is at noise level
    x, y = _draws(0, "main")[:64], _draws(1, "main")[:64]
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.5


@pytest.mark.parametrize("name", ["", None, 1.5, True])
def test_bad_stream_names(name):
    ch = runtime.start_chapter("ch", scale="quick", seed=0, device="cpu")
    with pytest.raises(ValueError, match="accepted values"):
        ch.rng(name)
