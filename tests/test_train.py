"""Unit tests of model/train: schedules, Muon, SFT mask, DPO math, windowed eval, training state."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from model.train.evaluate import plan_windows, rows_nll, windowed_nll
from model.train.losses import dpo_loss, lm_loss, sequence_logprobs, token_logprobs, token_nll
from model.train.optim import Muon, build_optimizers, newton_schulz
from model.train.schedule import lr_factor
from model.train.state import has_state, load_state, save_state
from model.transformer import Transformer


def test_cosine_schedule_shape():
    f = [lr_factor(s, 100, 10, "cosine", 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(f[:10], f[1:10]))  # warmup ramps up
    assert all(a >= b for a, b in zip(f[10:], f[11:]))  # then decays monotonically
    assert f[55] == pytest.approx(0.55, abs=0.02) and f[-1] == pytest.approx(0.1, abs=1e-3)


def test_wsd_schedule_shape():
    f = [lr_factor(s, 100, 5, "wsd", 0.0, decay_frac=0.2) for s in range(100)]
    assert f[4] == 1.0 and all(x == 1.0 for x in f[5:80])
    assert all(a > b for a, b in zip(f[80:], f[81:])) and f[-1] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        lr_factor(0, 10, 0, "linear")


def test_constant_schedule_is_flat_after_warmup():
    f = [lr_factor(s, 50, 4, "constant", min_ratio=0.1) for s in range(60)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]  # the same linear warmup as the others
    assert all(x == 1.0 for x in f[4:])  # then never decays, not even past max_steps
    assert [lr_factor(s, 50, 0, "constant") for s in (0, 49)] == [1.0, 1.0]


def test_newton_schulz_orthogonalises():
    torch.manual_seed(0)
    G = torch.randn(32, 64)
    X = newton_schulz(G, steps=5, dtype=torch.float32)
    s = torch.linalg.svdvals(X)
    assert s.min() > 0.5 and s.max() < 1.3  # all singular values pulled towards 1
    Xt = newton_schulz(G.T.contiguous(), dtype=torch.float32)  # tall input handled by transposition
    assert torch.allclose(Xt, X.T, atol=1e-4)


def test_muon_reduces_loss_on_toy_problem():
    torch.manual_seed(0)
    W_true = 0.25 * torch.randn(16, 16)
    x = torch.randn(256, 16)
    y = x @ W_true.T
    W = torch.nn.Parameter(torch.zeros(16, 16))
    opt = Muon([W], lr=0.05, ns_dtype=torch.float32)
    losses = []
    for _ in range(60):
        loss = F.mse_loss(x @ W.T, y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < 0.2 * losses[0]


def test_muon_param_split(tiny_config):
    model = Transformer(tiny_config)
    adam, muon = build_optimizers(model, "muon", lr=1e-3)
    muon_ids = {id(p) for g in muon.param_groups for p in g["params"]}
    adam_ids = {id(p) for g in adam.param_groups for p in g["params"]}
    assert id(model.tok_embeddings.weight) in adam_ids and id(model.norm.weight) in adam_ids
    assert id(model.layers[0].attention.wq.weight) in muon_ids and not muon_ids & adam_ids
    assert len(muon_ids | adam_ids) == len({id(p) for p in model.parameters()})


def test_sft_loss_only_counts_assistant_tokens(tokenizer, tiny_config):
    from tokenizer.chat import ChatTemplate
    tpl = ChatTemplate(tokenizer)
    msgs = [{"role": "user", "content": "the king said"}, {"role": "assistant", "content": "a good man"}]
    ids, mask = tpl.render(msgs)
    asst = [i for i, m in enumerate(mask) if m]
    assert asst and all(ids[i] not in (tpl.role_ids["user"],) for i in asst)
    assert ids[asst[-1]] == tpl.end_id and sum(mask) == len(tokenizer.encode("a good man")) + 1
    torch.manual_seed(0)
    model = Transformer(tiny_config)
    x = torch.tensor([ids[:-1]])
    y = torch.tensor([ids[1:]])
    m = torch.tensor([mask[1:]])
    loss = lm_loss(model, x, y, m)
    logp = torch.log_softmax(model(x).float(), -1)[0]  # (T, V)
    manual = -torch.stack([logp[t, y[0, t]] for t in range(len(y[0])) if m[0, t]]).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    y2 = y.clone()
    y2[m == 0] = 7  # changing masked-out targets does not change the loss
    assert lm_loss(model, x, y2, m).item() == pytest.approx(loss.item(), rel=1e-6)


def test_dpo_loss_matches_hand_computation():
    pc, pr = torch.tensor([-10.0, -5.0]), torch.tensor([-12.0, -4.0])
    rc, rr = torch.tensor([-11.0, -5.0]), torch.tensor([-11.0, -5.0])
    loss, acc, margin = dpo_loss(pc, pr, rc, rr, beta=0.5)
    # pair 1: 0.5*((-10+11) - (-12+11)) = 1.0 ; pair 2: 0.5*((0) - (1)) = -0.5
    expected = (-math.log(1 / (1 + math.exp(-1.0))) - math.log(1 / (1 + math.exp(0.5)))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert acc.item() == 0.5 and margin.item() == pytest.approx(0.25)


def test_sequence_logprobs_sums_masked(tiny_config):
    torch.manual_seed(0)
    model = Transformer(tiny_config)
    x = torch.randint(0, tiny_config.vocab_size, (2, 10))
    y = torch.randint(0, tiny_config.vocab_size, (2, 10))
    mask = torch.zeros(2, 10)
    mask[:, 6:] = 1
    got = sequence_logprobs(model, x, y, mask)
    with torch.no_grad():
        logp = torch.log_softmax(model(x).float(), -1)
    want = (logp.gather(-1, y[..., None])[..., 0] * mask).sum(-1)
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(token_logprobs(model, x, y)[:, 6:].sum(-1), got, atol=1e-5)


@pytest.mark.parametrize("n,ctx,stride", [(50, 8, 8), (50, 8, 3), (9, 8, 4), (2, 8, 8)])
def test_windows_score_every_target_once(n, ctx, stride):
    scored = []
    for s, e, f in plan_windows(n, ctx, stride):
        assert e - s <= ctx and s <= f
        scored += list(range(f, e))
    assert scored == list(range(n - 1))


def test_windowed_nll_bpb(tiny_config):
    torch.manual_seed(0)
    model = Transformer(tiny_config).eval()
    toks = torch.randint(3, tiny_config.vocab_size, (40,))
    tb = torch.full((tiny_config.vocab_size,), 2, dtype=torch.int64)
    tb[:3] = 0
    r = windowed_nll(model, toks, tb, context=40)
    with torch.no_grad():
        nll = F.cross_entropy(model(toks[None, :-1])[0], toks[1:], reduction="sum").item()
    assert r.tokens == 39 and r.bytes == 78
    assert r.loss == pytest.approx(nll / 39, rel=1e-5) and r.bpb == pytest.approx(nll / math.log(2) / 78, rel=1e-5)
    r2 = windowed_nll(model, toks, tb, context=16, stride=4)
    assert r2.tokens == 39 and r2.bytes == 78


def test_lm_loss_is_the_mean_of_token_nll_over_the_mask(tiny_config):
    torch.manual_seed(0)
    model = Transformer(tiny_config)
    x = torch.randint(0, tiny_config.vocab_size, (2, 12))
    y = torch.randint(0, tiny_config.vocab_size, (2, 12))
    mask = torch.zeros(2, 12, dtype=torch.int64)
    mask[0, 3:], mask[1, 8:] = 1, 1
    with torch.no_grad():
        per_token = token_nll(model(x), y)
        assert lm_loss(model, x, y, mask).item() == pytest.approx(float(per_token[mask.bool()].mean()), rel=1e-6)
        assert lm_loss(model, x, y).item() == pytest.approx(float(per_token.mean()), rel=1e-6)


def _windowed_reference(model, tokens, tb, context):
    """windowed_nll as it was written before the shared sums (one window a batch, stride = context)."""
    nll_sum = byte_nll = 0.0
    n_bytes = n_tok = 0
    with torch.no_grad():
        for s, e, f in plan_windows(tokens.numel(), context, context):
            x, y = tokens[None, s:e], tokens[None, s + 1:e + 1]
            keep = (torch.arange(s, e) >= f)[None]
            nll = F.cross_entropy(model(x).float().flatten(0, 1), y.flatten(), reduction="none").view_as(y) * keep
            by = tb[y] * keep
            nll_sum += float(nll.sum(dtype=torch.float64))
            byte_nll += float((nll * (by > 0)).sum(dtype=torch.float64))
            n_bytes += int(by.sum())
            n_tok += int(keep.sum())
    return nll_sum / n_tok, byte_nll / math.log(2) / n_bytes


def _sft_eval_reference(model, ids, mask, tb, B):
    """chatcli/training/sft.py's held-out evaluation as it was before it used rows_nll."""
    nll = nbytes = ntok = bnll = 0.0
    with torch.no_grad():
        for i in range(0, min(len(ids), 256), B):
            x = ids[i:i + B]
            mk = mask[i:i + B, 1:].float()
            y = x[:, 1:]
            tok_nll = F.cross_entropy(model(x[:, :-1]).float().flatten(0, 1), y.flatten(), reduction="none").view_as(y) * mk
            by = tb[y] * mk
            nll += float(tok_nll.sum())
            bnll += float((tok_nll * (by > 0)).sum())
            ntok += float(mk.sum())
            nbytes += float(by.sum())
    return nll / max(1, ntok), bnll / math.log(2) / max(1, nbytes)


def test_loss_and_bpb_figures_are_unchanged_by_the_one_implementation(tiny_config):
    """windowed_nll (pretrain, eval) and rows_nll (SFT) give the figures their own copies used to give."""
    torch.manual_seed(0)
    model = Transformer(tiny_config).eval()
    V = tiny_config.vocab_size
    tb = torch.randint(0, 4, (V,))
    tb[:3] = 0  # control ids carry no bytes
    toks = torch.randint(0, V, (70,))
    r = windowed_nll(model, toks, tb, context=16, batch_size=3)
    loss, bpb = _windowed_reference(model, toks, tb, 16)
    assert (r.loss, r.bpb) == (pytest.approx(loss, rel=1e-9), pytest.approx(bpb, rel=1e-9))
    ids = torch.randint(0, V, (11, 9))
    mask = (torch.rand(11, 9) > 0.4).long()
    r = rows_nll(model, ids, mask, tb, batch_size=4)
    loss, bpb = _sft_eval_reference(model, ids, mask, tb, 4)
    assert r.tokens == int(mask[:, 1:].sum()) and r.bytes == int((tb[ids[:, 1:]] * mask[:, 1:]).sum())
    assert (r.loss, r.bpb) == (pytest.approx(loss, rel=1e-6), pytest.approx(bpb, rel=1e-6))
    assert rows_nll(model, ids, mask, tb, batch_size=4, max_rows=4).tokens == int(mask[:4, 1:].sum())
    assert not model.training and rows_nll(model.train(), ids, mask, tb).tokens and model.training  # mode restored


def test_state_roundtrip_is_exact(tmp_path, tiny_config):
    torch.manual_seed(0)
    model = Transformer(tiny_config)
    opts = build_optimizers(model, "muon", lr=1e-3, ns_dtype=torch.float32)
    x = torch.randint(0, tiny_config.vocab_size, (2, 16))
    for _ in range(2):
        lm_loss(model, x[:, :-1], x[:, 1:]).backward()
        for o in opts:
            o.step()
            o.zero_grad()
    save_state(tmp_path, model, opts, {"stage": "pretrain", "step": 2, "tokens": 64, "time_s": 1.0})
    assert has_state(tmp_path)
    rng_before = torch.get_rng_state()
    torch.manual_seed(123)
    model2 = Transformer(tiny_config)
    opts2 = build_optimizers(model2, "muon", lr=1e-3, ns_dtype=torch.float32)
    scalars = load_state(tmp_path, model2, opts2, torch.device("cpu"))
    assert scalars["step"] == 2 and torch.equal(torch.get_rng_state(), rng_before)
    for (n, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        assert torch.equal(a, b), n
    for o, o2 in zip(opts, opts2):
        for p, p2 in zip([p for g in o.param_groups for p in g["params"]], [p for g in o2.param_groups for p in g["params"]]):
            for k, v in o.state[p].items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(o2.state[p2][k])), k
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.pkl"))


def test_training_runtime_destroys_the_process_group_even_on_error(tmp_path, monkeypatch):
    """The stages run inside training_runtime: ddp.shutdown gets the DistInfo whether the stage returns or raises."""
    from chatcli.training import runner
    from model.train.ddp import DistInfo
    seen = []
    monkeypatch.setattr(runner, "init_distributed", lambda device: (DistInfo(0, 0, 2), device))
    monkeypatch.setattr(runner, "shutdown", seen.append)
    opts = runner.RunOptions(out=tmp_path, device="cpu", dtype="fp32")
    with runner.training_runtime(opts, 0) as (dist, device, dtype):
        assert dist.world == 2 and device.type == "cpu" and dtype == torch.float32
    with pytest.raises(RuntimeError, match="stage failed"), runner.training_runtime(opts, 0):
        raise RuntimeError("stage failed")
    assert [d.world for d in seen] == [2, 2]
