"""The C++ decode step and sampler (model.cpp_ext) and their place in make_engine and the decode loop.

Slow-marked (they compile the extension, about a minute): the step against FastDecoder on tiny MHA, GQA
and MQA models up to the last position (same greedy tokens, close logits and caches), fp32 and int8 (against
fast int8); the C++ sampler against model.sampling.sample (the same tokens from the same seed, and the
sorted oracle's frequencies); `--engine cpp` building it. In the default run (nothing compiles): the
fallback when the build fails, `auto` picking fast while nothing is built, and the engine lists agreeing.
"""
from __future__ import annotations

import shutil

import pytest
import torch

from model.config import ModelConfig
from model.fast import FastDecoder
from model.generate import decode_n
from model.quantize import quantize_int8
from model.sampling import SamplingConfig, make_generator, sample
from model.transformer import Transformer

CFG = ModelConfig(vocab_size=200, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=96, max_seq_len=80)
SHAPES = {
    "gqa": CFG,
    "mha": ModelConfig(vocab_size=130, dim=48, n_layers=2, n_heads=3, n_kv_heads=3, ffn_hidden=70, max_seq_len=40),
    "mqa": ModelConfig(vocab_size=300, dim=96, n_layers=1, n_heads=6, n_kv_heads=1, ffn_hidden=100, max_seq_len=48),
}


@pytest.fixture(scope="session")
def ext_cache(tmp_path_factory):
    """A private cache dir with the extension built into it (once per session)."""
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler")
    mp = pytest.MonkeyPatch()
    d = tmp_path_factory.mktemp("cache")
    mp.setenv("CHATCLI_CACHE_DIR", str(d))
    from model.cpp_ext import load_extension
    try:
        yield d, load_extension()
    finally:
        mp.undo()


@pytest.fixture
def ext(ext_cache, monkeypatch):
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(ext_cache[0]))
    return ext_cache[1]


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_cpp_step_matches_fast(ext, shape):
    from model.cpp_ext import CppDecoder
    cfg = SHAPES[shape]
    torch.manual_seed(0)
    fast = FastDecoder(Transformer(cfg).eval())
    cpp = CppDecoder(fast, ext)
    S = cfg.max_seq_len
    c1, c2 = fast.new_cache(1, S), cpp.new_cache(1, S)
    ids = torch.tensor([[1, 5, 9, 3]])  # (1, 4)
    fast.prefill(ids, 0, c1)
    tok = cpp.prefill(ids, 0, c2).argmax(-1)  # (1,)
    for pos in range(4, S):  # up to the last position of the context
        a, b = fast.decode_one(tok, pos, c1), cpp.decode_one(tok, pos, c2)  # (1, V)
        assert b.shape == a.shape
        assert torch.allclose(a, b, atol=1e-4), (pos, (a - b).abs().max())
        assert a.argmax(-1).item() == b.argmax(-1).item()
        tok = a.argmax(-1)
    assert torch.allclose(c1.k, c2.k, atol=1e-5) and torch.allclose(c1.v, c2.v, atol=1e-5)
    with pytest.raises(ValueError):
        cpp.decode_one(tok, S, c2)


@pytest.mark.slow
def test_cpp_step_short_cache_and_batches(ext):
    """A cache shorter than the context (as decode_n allocates it) works; batch > 1 goes through fast."""
    from model.cpp_ext import CppDecoder
    torch.manual_seed(1)
    fast = FastDecoder(Transformer(CFG).eval())
    cpp = CppDecoder(fast, ext)
    c1, c2 = fast.new_cache(1, 12), cpp.new_cache(1, 12)
    ids = torch.tensor([[7, 8, 9]])  # (1, 3)
    tok = fast.prefill(ids, 0, c1).argmax(-1)  # (1,)
    cpp.prefill(ids, 0, c2)
    for pos in range(3, 12):
        a, b = fast.decode_one(tok, pos, c1), cpp.decode_one(tok, pos, c2)  # (1, V)
        assert torch.allclose(a, b, atol=1e-4)
        tok = a.argmax(-1)
    cb = cpp.new_cache(2, 8)
    assert cpp.prefill(torch.tensor([[1, 2], [3, 4]]), 0, cb).shape == (2, CFG.vocab_size)
    assert cpp.decode_one(torch.tensor([5, 6]), 2, cb).shape == (2, CFG.vocab_size)


@pytest.mark.slow
def test_make_engine_cpp_and_auto_once_built(ext):
    from model.compiled import make_engine
    from model.cpp_ext import is_built
    assert is_built()
    model = Transformer(CFG).eval()
    notes: list[str] = []
    assert make_engine(model, "cpp", notify=notes.append).name == "cpp"
    assert make_engine(model, "auto", notify=notes.append).name == "cpp"  # built: auto uses it
    assert make_engine(model, "auto", batch=2, notify=notes.append).name == "fast"
    assert make_engine(model.to(torch.bfloat16), "auto", notify=notes.append).name == "fast"
    assert notes == []  # nothing compiled, auto never complains


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_cpp_int8_matches_fast_int8(ext, shape):
    """int8 weights: the fp32 step on the dequantized weights to 1e-4 (same greedy tokens), and fast int8
    (bf16 activations in torch's int8 kernel) closely."""
    from model.cpp_ext import CppDecoder
    cfg = SHAPES[shape]
    torch.manual_seed(2)
    model = Transformer(cfg).eval()
    exact = FastDecoder(_dequantized_copy(model))
    packed = FastDecoder(_int8_copy(model))
    cpp = CppDecoder(packed, ext)
    assert cpp.quantized == "int8"
    S = cfg.max_seq_len
    c1, c2, c3 = exact.new_cache(1, S), cpp.new_cache(1, S), packed.new_cache(1, S)
    ids = torch.tensor([[1, 5, 9, 3]])  # (1, 4)
    tok = exact.prefill(ids, 0, c1).argmax(-1)  # (1,)
    packed.prefill(ids, 0, c3)
    c2.k.copy_(c1.k)  # the cpp engine prefills through fast int8 (bf16): start its steps from the exact cache
    c2.v.copy_(c1.v)
    for pos in range(4, S):
        a, b, c = exact.decode_one(tok, pos, c1), cpp.decode_one(tok, pos, c2), packed.decode_one(tok, pos, c3)
        assert torch.allclose(a, b, atol=1e-4), (pos, (a - b).abs().max())
        assert (b - c).abs().max() < 0.05 * a.abs().max(), (pos, (b - c).abs().max())  # bf16 activations
        assert a.argmax(-1).item() == b.argmax(-1).item()
        tok = a.argmax(-1)


def _int8_copy(model: Transformer) -> Transformer:
    m = Transformer(model.config)
    m.load_state_dict(model.state_dict())
    return quantize_int8(m.eval())


def _dequantized_copy(model: Transformer) -> Transformer:
    """fp32, every linear (a tied head too, the embedding not) replaced by its int8 round trip q * scales."""
    from model.quantize import quantize_weight
    m = Transformer(model.config)
    m.load_state_dict(model.state_dict())
    for lin in [x for x in m.modules() if isinstance(x, torch.nn.Linear)]:
        q, scales = quantize_weight(lin.weight)
        lin.weight = torch.nn.Parameter(q.float() * scales[:, None], requires_grad=False)  # (N, K)
    return m.eval()


SAMPLE_CASES = [dict(temperature=0.0), dict(top_p=0.9), dict(top_p=0.5), dict(top_p=0.9, min_p=0.05),
                dict(min_p=0.1, top_p=1.0), dict(top_k=5, top_p=1.0), dict(top_k=20, top_p=0.8, min_p=0.02),
                dict(top_k=300, top_p=0.9), dict(top_k=300, top_p=1.0), dict(top_p=1.0)]


def _ids(case: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in case.items())


@pytest.mark.slow
@pytest.mark.parametrize("penalty", [1.0, 1.3])
@pytest.mark.parametrize("case", SAMPLE_CASES, ids=[_ids(c) for c in SAMPLE_CASES])
def test_cpp_sample_draws_what_sample_draws(ext, case, penalty):
    """From one seed the C++ sampler picks sample()'s tokens (it reads the generator as torch.rand does)."""
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(1, 1003, generator=g) * 2.0  # (1, V), V not a multiple of 8
    recent = torch.randint(0, 1003, (1, 40), generator=g)  # (1, W), repeats included
    cfg = SamplingConfig(**{"temperature": 0.9, "repeat_penalty": penalty, **case})
    g1, g2 = make_generator(11), make_generator(11)
    want = [sample(logits, cfg, g1, recent).item() for _ in range(400)]
    got = [ext.sample(logits, cfg.temperature, cfg.top_k, cfg.top_p, cfg.min_p, cfg.repeat_penalty, recent, g2).item()
           for _ in range(400)]
    assert sum(a == b for a, b in zip(want, got)) >= 396  # equal but for a float rounding at a boundary
    if want == got:
        assert g1.get_state().equal(g2.get_state())  # and the same number of uniforms drawn


@pytest.mark.slow
@pytest.mark.parametrize("peaked", [False, True])
@pytest.mark.parametrize("case", SAMPLE_CASES[1:], ids=[_ids(c) for c in SAMPLE_CASES[1:]])
def test_cpp_sample_frequencies_match_sorted_oracle(ext, case, peaked):
    """The C++ sampler's frequencies against test_sampling's sorted oracle, by a chi-square statistic."""
    from test_sampling import oracle
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 500, generator=g) * (4.0 if peaked else 0.5)  # (1, V)
    cfg = SamplingConfig(temperature=0.9, repeat_penalty=1.0, **case)
    n, gen = 40000, make_generator(0)
    draws = torch.tensor([ext.sample(logits, cfg.temperature, cfg.top_k, cfg.top_p, cfg.min_p, 1.0, None, gen).item()
                          for _ in range(n)])  # (n,)
    want, got = oracle(logits, cfg), torch.bincount(draws, minlength=500).double()  # (V,), (V,)
    assert not bool(((want == 0) & (got > 0)).any())  # nothing outside the support
    expected = want.double() * n
    big = expected >= 5  # pool the rare cells into one
    obs = torch.cat([got[big], got[~big].sum().view(1)])
    exp = torch.cat([expected[big], expected[~big].sum().view(1)])
    keep = exp > 0
    chi2 = ((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum().item()
    df = max(int(keep.sum()) - 1, 1)
    assert chi2 < df + 5 * (2 * df) ** 0.5 + 10, (chi2, df)  # about 5 sigma above the mean df


@pytest.mark.slow
def test_cpp_sample_seeds_and_default_generator(ext):
    logits = torch.randn(1, 300)  # (1, V)
    cfg = SamplingConfig(temperature=1.0, top_p=0.95, repeat_penalty=1.0)

    def run(gen):
        return [ext.sample(logits, 1.0, 0, 0.95, 0.0, 1.0, None, gen).item() for _ in range(50)]

    assert run(make_generator(4)) == run(make_generator(4))
    assert run(make_generator(4)) != run(make_generator(5))
    torch.manual_seed(9)
    a = run(None)  # the default generator, as sample(generator=None) uses it
    torch.manual_seed(9)
    assert a == [sample(logits, cfg, None).item() for _ in range(50)]


@pytest.mark.slow
def test_decode_loop_samples_through_the_cpp_engine(ext):
    """decode_n draws with CppDecoder.sample (one call per token), the tokens fast + sample() give."""
    from model.cpp_ext import CppDecoder
    from model.engine import sampler_of
    torch.manual_seed(3)
    fast = FastDecoder(Transformer(CFG).eval())
    cpp = CppDecoder(fast, ext)
    assert sampler_of(fast) is sample and sampler_of(cpp) == cpp.sample
    calls = []
    own = cpp.sample
    cpp.sample = lambda *a: calls.append(1) or own(*a)
    cfg = SamplingConfig(temperature=1.0, top_p=0.9, repeat_penalty=1.2, seed=7, max_tokens=30)
    got = list(decode_n(cpp, [1, 2, 3], cfg))
    assert len(calls) == len(got) == 30
    assert got == list(decode_n(fast, [1, 2, 3], cfg))
    two = cpp.sample(torch.randn(2, CFG.vocab_size), cfg, make_generator(0))  # (2,): batch 2 goes to sample
    assert two.shape == (2,)


@pytest.mark.slow
def test_make_engine_cpp_runs_int8(ext):
    from model.compiled import make_engine
    torch.manual_seed(4)
    base = Transformer(CFG).eval()
    notes: list[str] = []
    engine = make_engine(_int8_copy(base), "cpp", notify=notes.append)
    assert engine.name == "cpp" and engine.quantized == "int8" and notes == []
    cfg = SamplingConfig(temperature=0.0, max_tokens=20)
    assert list(decode_n(engine, [1, 2], cfg)) == list(decode_n(FastDecoder(_dequantized_copy(base)), [1, 2], cfg))


BENCH = ["bench", "--shape", "d32,L1,H2,V100,S32", "--prompt-tokens", "4", "--gen-tokens", "3", "-r", "1",
         "--device", "cpu", "--engine", "cpp", "--json"]


@pytest.mark.slow
def test_bench_engine_cpp_names_it(ext):
    import json

    from typer.testing import CliRunner

    from chatcli.app import app
    result = CliRunner().invoke(app, BENCH)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["engine"] == "cpp"
    assert "engine cpp" in result.stderr and "asked for" not in result.stderr


# ---- default run: nothing compiles -------------------------------------------------------------------


def test_cpp_fallback_when_build_fails(tmp_path, monkeypatch):
    import model.cpp_ext as cpp_ext
    from model.compiled import make_engine
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path))

    def broken(build=True, notify=None):
        raise cpp_ext.CppUnavailable("building the C++ decode step failed (CompileError: boom)")

    monkeypatch.setattr(cpp_ext, "load_extension", broken)
    notes: list[str] = []
    torch.manual_seed(0)
    model = Transformer(CFG).eval()
    engine = make_engine(model, "cpp", notify=notes.append)
    assert engine.name == "fast"
    assert len(notes) == 1 and "C++ decode step unavailable" in notes[0] and "boom" in notes[0]
    cache = engine.new_cache(1, 8)
    logits = engine.prefill(torch.tensor([[1, 2, 3]]), 0, cache)  # (1, V)
    assert logits.shape == (1, CFG.vocab_size) and torch.isfinite(logits).all()
    assert engine.decode_one(logits.argmax(-1), 3, cache).shape == (1, CFG.vocab_size)


def test_failed_build_is_summarised_in_one_line(tmp_path, monkeypatch):
    import model.cpp_ext as cpp_ext
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cpp_ext, "_compiler", lambda: "/usr/bin/c++")

    def failing_load(*a, **k):
        raise RuntimeError("Error building extension 'x'\n[1/2] c++ ... long compiler output")

    monkeypatch.setattr("torch.utils.cpp_extension.load", failing_load)
    with pytest.raises(cpp_ext.CppUnavailable) as info:
        cpp_ext.load_extension(build=True)
    assert str(info.value) == "building the C++ decode step failed (RuntimeError: Error building extension 'x')"


def test_cpp_unsuitable_model_falls_back_with_one_notice(tmp_path, monkeypatch):
    import model.cpp_ext as cpp_ext
    from model.compiled import make_engine
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cpp_ext, "load_extension", lambda **k: pytest.fail("must not load for bf16"))
    notes: list[str] = []
    engine = make_engine(Transformer(CFG).to(torch.bfloat16).eval(), "cpp", notify=notes.append)
    assert engine.name == "fast" and len(notes) == 1 and "fp32" in notes[0]
    notes.clear()
    assert make_engine(Transformer(CFG).eval(), "cpp", batch=2, notify=notes.append).name == "fast"
    assert len(notes) == 1 and "batch 1" in notes[0]


def test_bench_engine_cpp_falls_back_with_one_notice(monkeypatch):
    import json

    from typer.testing import CliRunner

    import model.cpp_ext as cpp_ext
    from chatcli.app import app

    def broken(build=True, notify=None):
        raise cpp_ext.CppUnavailable("no C++ compiler found (install g++ or set CXX)")

    monkeypatch.setattr(cpp_ext, "load_extension", broken)
    result = CliRunner().invoke(app, BENCH)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["engine"] == "fast"
    assert result.stderr.count("C++ decode step unavailable") == 1
    assert "engine fast (asked for cpp)" in result.stderr and "Traceback" not in result.output


def test_auto_picks_fast_when_not_built(tmp_path, monkeypatch):
    from model.compiled import make_engine
    from model.cpp_ext import CppUnavailable, is_built, load_extension
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("torch.utils.cpp_extension.load", lambda *a, **k: pytest.fail("auto must not compile"))
    assert not is_built()
    notes: list[str] = []
    assert make_engine(Transformer(CFG).eval(), "auto", notify=notes.append).name == "fast"
    assert notes == []
    with pytest.raises(CppUnavailable, match="not built"):
        load_extension(build=False)
    assert not (tmp_path / "cpp").exists()  # nothing was created either


def test_auto_hashes_the_build_key_once_a_process_but_follows_the_cache_dir(tmp_path, monkeypatch):
    import model.cpp_ext as cpp_ext
    from model.compiled import make_engine
    reads = []
    real = cpp_ext._cpu_id
    monkeypatch.setattr(cpp_ext, "_cpu_id", lambda: reads.append(1) or real())
    cpp_ext.build_key.cache_clear()
    try:
        model = Transformer(CFG).eval()
        monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path / "a"))
        for _ in range(3):
            assert make_engine(model, "auto").name == "fast"
        assert len(reads) == 1  # /proc/cpuinfo read (and the source hashed) once, not per call
        monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path / "b"))
        assert cpp_ext.build_dir() == tmp_path / "b" / "cpp" / cpp_ext.build_key()
        cpp_ext.module_path().parent.mkdir(parents=True)
        cpp_ext.module_path().write_bytes(b"")  # a build under b only
        assert cpp_ext.is_built()
        monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path / "a"))
        assert not cpp_ext.is_built() and make_engine(model, "auto").name == "fast"
        assert len(reads) == 1
    finally:
        cpp_ext.build_key.cache_clear()  # the next caller hashes with the real _cpu_id


def test_stale_build_without_decode_step_is_refused(tmp_path, monkeypatch):
    import sys
    import types

    import model.cpp_ext as cpp_ext
    monkeypatch.setenv("CHATCLI_CACHE_DIR", str(tmp_path))
    path = cpp_ext.module_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, cpp_ext.module_name(), types.ModuleType("stale"))
    with pytest.raises(cpp_ext.CppUnavailable, match="no DecodeStep"):
        cpp_ext.load_extension(build=False)


def test_engine_lists_agree():
    from chatcli.bench import ENGINES
    from model.compiled import KINDS
    assert ENGINES == KINDS and "cpp" in KINDS


def test_cpp_sources_are_package_data():
    from pathlib import Path
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "csrc/*.cpp" in data.get("model", [])
    assert (root / "model" / "csrc" / "decode_step.cpp").is_file()
