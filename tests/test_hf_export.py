"""`chatcli convert to-hf` gives a directory transformers uses whole: files readable by others,
generation_config stopping at <|end|>, and a chat template that renders exactly our prompt ids."""
from __future__ import annotations

import stat

import pytest
import torch
from typer.testing import CliRunner

transformers = pytest.importorskip("transformers")
pytest.importorskip("google.protobuf")  # transformers reads tokenizer.model through protobuf

from chatcli.app import app  # noqa: E402
from chatcli.bundle import BUNDLED, load_bundle  # noqa: E402

CONVERSATIONS = [
    [{"role": "user", "content": "Hi!"}],
    [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "What is 12 + 30?"},
     {"role": "assistant", "content": "42."}, {"role": "user", "content": "And twice that, with  two spaces?"}],
    [{"role": "user", "content": "line one\nline two\n\n 床前明月光, typed by hand"}],
]  # not text holding a marker such as "<|end|>": HF tokenizes that as the marker, chatcli never does


def _export(model_dir, out):
    r = CliRunner().invoke(app, ["convert", "to-hf", str(model_dir), str(out)])
    assert r.exit_code == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory, model_dir):
    return _export(model_dir, tmp_path_factory.mktemp("hf") / "out")


def test_every_file_is_readable_by_others(hf_dir):
    names = sorted(p.name for p in hf_dir.iterdir())
    assert names == ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                     "tokenizer.model", "tokenizer_config.json"]
    for p in hf_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) & 0o044 == 0o044, (p.name, oct(p.stat().st_mode))


def test_generation_config_ends_on_end_and_eos(hf_dir, model_dir):
    tok = load_bundle(model_dir).tokenizer
    gen = transformers.GenerationConfig.from_pretrained(hf_dir)
    assert sorted(gen.eos_token_id) == sorted([tok.special["<|end|>"], tok.eos_id])
    assert gen.bos_token_id == tok.bos_id and gen.do_sample and gen.temperature == 0.2


def test_chat_template_renders_our_prompt_ids(hf_dir, model_dir):
    ours = load_bundle(model_dir).template
    theirs = transformers.AutoTokenizer.from_pretrained(hf_dir)
    for messages in CONVERSATIONS:
        text = theirs.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = theirs(text, add_special_tokens=False)["input_ids"]
        assert ids == ours.render_prompt(messages), messages
    full = CONVERSATIONS[1]
    text = theirs.apply_chat_template(full, tokenize=False)
    assert text == ("<s><|system|>You are helpful.<|end|><|user|>What is 12 + 30?<|end|><|assistant|>42.<|end|>"
                    "<|user|>And twice that, with  two spaces?<|end|>")
    assert theirs(text, add_special_tokens=False)["input_ids"] == ours.render(full)[0]


def test_transformers_generate_stops_at_end_like_chatcli(tmp_path):
    """Greedy generate on the exported bundled model: same ids as ours, ending where <|end|> comes."""
    from model.generate import decode_n
    from model.sampling import SamplingConfig
    if not (BUNDLED / "model.safetensors").exists():
        pytest.skip("no bundled model")
    bundle = load_bundle(BUNDLED)
    out = _export(BUNDLED, tmp_path / "hf")
    end = bundle.tokenizer.special["<|end|>"]
    greedy = SamplingConfig(temperature=0, repeat_penalty=1.0, max_tokens=120)
    for prompt in ("What is chatcli?", "How do I evaluate a model?", "Hi!"):
        ids = bundle.template.render_prompt([{"role": "user", "content": prompt}])
        ours = list(decode_n(bundle.model, ids, greedy, stop_ids=[end]))
        if len(ours) < 120:
            break
    else:
        pytest.skip("the bundled model did not end any of the answers within 120 tokens")
    hf = transformers.LlamaForCausalLM.from_pretrained(out).eval()
    tok = transformers.AutoTokenizer.from_pretrained(out)
    inputs = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    assert inputs["input_ids"][0].tolist() == ids
    with torch.no_grad():
        gen = hf.generate(**inputs, do_sample=False, max_new_tokens=120, repetition_penalty=1.0)[0, len(ids):]
    assert gen.tolist() == ours + [end]  # stopped by generation_config's <|end|>
