"""`chatcli convert to-hf`: a model directory -> a Hugging Face Llama directory that transformers
loads whole: weights and config (model.hf), plus the tokenizer side written here, because only
chatcli joins a model to its tokenizer.

    config.json, generation_config.json, model.safetensors   model.hf.export_hf (stop ids: <|end|>, </s>)
    tokenizer.model                                          the SentencePiece model, copied
    tokenizer_config.json                                    LlamaTokenizer, special tokens, chat_template
    special_tokens_map.json                                  bos/eos/unk and the chat markers

The chat template (Jinja, as `tokenizer.apply_chat_template` runs it; tokenizer.chat.jinja_template
writes it from the marker spellings) renders exactly what tokenizer.chat.ChatTemplate builds: <s>,
then <|role|>text<|end|> per message, then <|assistant|> for the generation prompt. `legacy: true`
makes the HF tokenizer start the text after each marker with SentencePiece's word-boundary prefix,
as our per-message encoding does, so the token ids match too (except for message text that spells a
marker, such as "<|end|>": transformers turns it into the marker, chatcli's encoder never does).
Loading tokenizer.model in transformers needs `sentencepiece` and `protobuf`.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from model.checkpoint import FILE_MODE, atomic_write_json
from tokenizer.chat import jinja_template

CHAT_TEMPLATE = jinja_template(checked=True)  # also refuses unknown roles and a late system message


def tokenizer_files(tok) -> tuple[dict, dict]:
    """(tokenizer_config.json, special_tokens_map.json) for a chatcli Tokenizer."""
    bos, eos, unk = tok.piece(tok.bos_id), tok.piece(tok.eos_id), tok.piece(tok.unk_id)
    specials = {tok.bos_id: bos, tok.eos_id: eos, tok.unk_id: unk, **{i: p for p, i in tok.special.items()}}
    added = {str(i): {"content": p, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False,
                      "special": True} for i, p in sorted(specials.items())}
    config = {"tokenizer_class": "LlamaTokenizer", "bos_token": bos, "eos_token": eos, "unk_token": unk,
              "pad_token": None, "add_bos_token": False, "add_eos_token": False, "legacy": True,
              "clean_up_tokenization_spaces": False, "model_max_length": None,
              "added_tokens_decoder": added, "additional_special_tokens": list(tok.special)}
    if tok.has_chat_tokens:
        config["chat_template"] = CHAT_TEMPLATE
    mapping = {"bos_token": bos, "eos_token": eos, "unk_token": unk, "additional_special_tokens": list(tok.special)}
    return config, mapping


def export_bundle(bundle, out: Path, *, sampling: dict | None = None) -> Path:
    """Write the whole HF directory for a loaded Bundle (see the module docstring)."""
    from model.hf import export_hf
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = bundle.tokenizer
    template = bundle.template
    stops = template.stop_ids if template is not None else [tok.eos_id]
    export_hf(bundle.model, out, bos_id=tok.bos_id, eos_id=tok.eos_id, stop_ids=stops, sampling=sampling)
    target = out / "tokenizer.model"
    shutil.copyfile(bundle.path / "tokenizer.model", target)
    target.chmod(FILE_MODE)
    config, mapping = tokenizer_files(tok)
    atomic_write_json(out / "tokenizer_config.json", config)
    atomic_write_json(out / "special_tokens_map.json", mapping)
    return out
