"""GGUF export: a chatcli model directory as one .gguf file (weights + tokenizer) for llama.cpp/ollama.

Written with the `gguf` package (llama.cpp's own writer), architecture "llama":
- hyperparameters under llama.* (context, width, layers, heads, kv heads, ffn, rms eps, rope base);
- tensors under llama.cpp's names (token_embd, blk.N.attn_q ..., output_norm; a tied head is left
  out and llama.cpp reads token_embd for it);
- q and k projections permuted per head from the rotate-half RoPE layout that chatcli (and Hugging
  Face) use to the interleaved-pairs layout llama.cpp's "llama" RoPE expects;
- the SentencePiece vocabulary as tokenizer.ggml.* ("llama" model: pieces, scores, token types,
  bos/eos/unk ids, the space prefix), plus the chat template in Jinja form (tokenizer.chat.jinja_template);
- `outtype` "f32" (everything F32) or "q8_0" (2-D weights as Q8_0, norms F32).
The reader side (`read_gguf`) is used by the tests and by nothing else.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from chatcli.errors import ChatcliError
from model.checkpoint import atomic_output
from tokenizer.chat import ChatTemplate, jinja_template

OUTTYPES = ("f32", "q8_0")
# chatcli state-dict suffix -> llama.cpp tensor name inside block N
BLOCK_NAMES = {
    "attention_norm.weight": "attn_norm.weight", "attention.wq.weight": "attn_q.weight",
    "attention.wk.weight": "attn_k.weight", "attention.wv.weight": "attn_v.weight",
    "attention.wo.weight": "attn_output.weight", "ffn_norm.weight": "ffn_norm.weight",
    "feed_forward.w1.weight": "ffn_gate.weight", "feed_forward.w3.weight": "ffn_up.weight",
    "feed_forward.w2.weight": "ffn_down.weight",
}
CHAT_TEMPLATE = jinja_template(checked=False)  # the plain form, without role checks


def interleave_rope_rows(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of a q/k projection (H*D, C), per head, from [first halves | second halves] order to
    pairs: new row 2i is old row i, new row 2i+1 is old row i + D/2 (so rotate-half = rotate pairs)."""
    rows, cols = w.shape
    d = rows // n_heads
    return w.reshape(n_heads, 2, d // 2, cols).transpose(1, 2).reshape(rows, cols)  # (H*D, C)


def gguf_name(name: str) -> str | None:
    """llama.cpp's name for a chatcli tensor (None for the RoPE tables, which are not weights)."""
    if name == "tok_embeddings.weight":
        return "token_embd.weight"
    if name == "norm.weight":
        return "output_norm.weight"
    if name == "output.weight":
        return "output.weight"
    parts = name.split(".", 2)
    if parts[0] == "layers" and parts[2] in BLOCK_NAMES:
        return f"blk.{parts[1]}.{BLOCK_NAMES[parts[2]]}"
    return None


def gguf_tensors(model) -> dict[str, np.ndarray]:
    """Every weight of a Transformer under its llama.cpp name, fp32 numpy, q/k permuted for llama.cpp."""
    cfg = model.config
    out: dict[str, np.ndarray] = {}
    for name, t in model.state_dict().items():
        target = gguf_name(name)
        if target is None or (target == "output.weight" and cfg.tie_embeddings):
            continue
        t = t.detach().float().cpu()
        if target.endswith("attn_q.weight"):
            t = interleave_rope_rows(t, cfg.n_heads)
        elif target.endswith("attn_k.weight"):
            t = interleave_rope_rows(t, cfg.n_kv_heads)
        out[target] = t.contiguous().numpy()
    return out


def _token_table(tok) -> tuple[list[bytes], list[float], list[int]]:
    """Pieces, scores and GGUF token types of a SentencePiece model (user-defined = score 0, plain)."""
    import gguf
    sp = tok.sp
    pieces, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        piece, score = sp.id_to_piece(i), sp.get_score(i)
        if sp.is_unknown(i):
            kind = gguf.TokenType.UNKNOWN
        elif sp.is_control(i):
            kind = gguf.TokenType.CONTROL
        elif sp.is_byte(i):
            kind = gguf.TokenType.BYTE
        elif sp.is_unused(i):
            kind = gguf.TokenType.UNUSED
        elif score == 0.0:  # BPE pieces score -rank; only user-defined symbols (e.g. "\n") score 0
            kind = gguf.TokenType.USER_DEFINED
        else:
            kind = gguf.TokenType.NORMAL
        pieces.append(piece.encode("utf-8"))
        scores.append(float(score))
        types.append(int(kind))
    return pieces, scores, types


def _placeholder_table(vocab_size: int) -> tuple[list[bytes], list[float], list[int]]:
    """A stand-in vocabulary for random-weight benchmark shapes that have no tokenizer: <unk> <s> </s>
    and one plain piece per remaining id (enough for llama.cpp to load the file and run ids)."""
    import gguf
    pieces = [b"<unk>", b"<s>", b"</s>"] + [f"[{i}]".encode() for i in range(3, vocab_size)]
    types = [int(gguf.TokenType.UNKNOWN), int(gguf.TokenType.CONTROL), int(gguf.TokenType.CONTROL)]
    types += [int(gguf.TokenType.NORMAL)] * (vocab_size - 3)
    return pieces, [-float(i) for i in range(vocab_size)], types


def write_gguf(model, tok, path: Path, *, outtype: str = "f32", name: str = "chatcli") -> Path:
    """Write model + tokenizer as GGUF at path (through a temp file + rename); returns path.

    tok None (benchmark shapes with random weights) writes a placeholder vocabulary."""
    import gguf
    if outtype not in OUTTYPES:
        raise ChatcliError(f"unknown --outtype {outtype!r} (use {', '.join(OUTTYPES)})")
    cfg = model.config
    if outtype == "q8_0":
        bad = [d for d in (cfg.dim, cfg.ffn_hidden, cfg.n_heads * cfg.head_dim) if d % 32]
        if bad:
            raise ChatcliError(f"q8_0 needs every row width to be a multiple of 32 (this model has {bad[0]}); "
                               "use --outtype f32")
    path = Path(path)
    with atomic_output(path) as tmp:
        _write(gguf, gguf.GGUFWriter(str(tmp), "llama"), model, tok, name, outtype)
    return path


def _write(gguf, w, model, tok, name: str, outtype: str) -> None:
    cfg = model.config
    w.add_name(name)
    w.add_context_length(cfg.max_seq_len)
    w.add_embedding_length(cfg.dim)
    w.add_block_count(cfg.n_layers)
    w.add_feed_forward_length(cfg.ffn_hidden)
    w.add_head_count(cfg.n_heads)
    w.add_head_count_kv(cfg.n_kv_heads)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_rope_freq_base(float(cfg.rope_theta))
    w.add_layer_norm_rms_eps(float(cfg.norm_eps))
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if outtype == "q8_0" else gguf.LlamaFileType.ALL_F32)
    pieces, scores, types = _token_table(tok) if tok is not None else _placeholder_table(cfg.vocab_size)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(tok.bos_id if tok is not None else 1)
    w.add_eos_token_id(tok.eos_id if tok is not None else 2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)  # chatcli trains with add_dummy_prefix
    w.add_remove_extra_whitespaces(False)
    if tok is not None and tok.has_chat_tokens:
        w.add_chat_template(CHAT_TEMPLATE)
        w.add_eot_token_id(ChatTemplate(tok).end_id)
    for tname, arr in gguf_tensors(model).items():
        if outtype == "q8_0" and arr.ndim == 2:
            w.add_tensor(tname, gguf.quants.quantize(arr, gguf.GGMLQuantizationType.Q8_0),
                         raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(tname, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_gguf(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata {key: value}, tensors {name: fp32 array in numpy's row-major shape}) of a GGUF file."""
    import gguf
    reader = gguf.GGUFReader(str(path))
    meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    tensors = {}
    for t in reader.tensors:
        shape = tuple(int(n) for n in reversed(t.shape))  # GGUF lists the fastest dimension first
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        tensors[t.name] = np.asarray(data, dtype=np.float32).reshape(shape)
    return meta, tensors
