"""Train, load, encode and decode a SentencePiece BPE tokenizer.

Choices that matter:
- byte fallback: any input (Chinese, emoji, control bytes) round-trips exactly;
- identity normalisation and no whitespace squashing: decode(encode(text)) == text;
- digits split one per token (arithmetic generalises);
- chat markers are *control* symbols: SentencePiece never produces them from text, so user text
  cannot turn into them (no template injection). Only the chat template inserts their ids.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import sentencepiece as spm

# Control symbols, in id order after unk=0, bos=1, eos=2; spelled as tokenizer.chat.marker spells them (a test checks).
SPECIAL_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
MODEL_FILE = "tokenizer.model"


class TokenizerError(Exception):
    """A tokenizer that cannot be trained or loaded as asked."""


class Tokenizer:
    """A loaded SentencePiece model with the ids chatcli relies on."""

    def __init__(self, sp: spm.SentencePieceProcessor, path: Path | None = None) -> None:
        self.sp = sp
        self.path = path
        self.vocab_size = sp.get_piece_size()
        self.bos_id, self.eos_id, self.unk_id = sp.bos_id(), sp.eos_id(), sp.unk_id()
        self.special: dict[str, int] = {}
        for name in SPECIAL_TOKENS:
            pid = sp.piece_to_id(name)
            if pid != self.unk_id and sp.is_control(pid):
                self.special[name] = pid

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        path = Path(path)
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            raise TokenizerError(f"{path}: tokenizer model not found")
        return cls.from_bytes(path.read_bytes(), path)

    @classmethod
    def from_bytes(cls, data: bytes, path: Path | None = None) -> Tokenizer:
        sp = spm.SentencePieceProcessor()
        try:
            sp.load_from_serialized_proto(data)
        except Exception as e:  # sentencepiece raises plain RuntimeError/OSError on bad protos
            raise TokenizerError(f"{path or 'tokenizer'}: not a valid SentencePiece model ({e})") from None
        return cls(sp, path)

    @property
    def has_chat_tokens(self) -> bool:
        return len(self.special) == len(SPECIAL_TOKENS)

    def encode(self, text: str) -> list[int]:
        """Ordinary text to ids; never yields control ids (bos, eos, chat markers)."""
        return self.sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([int(i) for i in ids])

    def piece(self, token_id: int) -> str:
        return self.sp.id_to_piece(int(token_id))

    def pieces(self, text: str) -> list[str]:
        return self.sp.encode(text, out_type=str)

    def is_special(self, token_id: int) -> bool:
        return self.sp.is_control(int(token_id)) or self.sp.is_unknown(int(token_id))

    def serialized(self) -> bytes:
        return self.sp.serialized_model_proto()

    def info(self) -> dict:
        return {"type": "sentencepiece", "vocab_size": self.vocab_size, "bos_id": self.bos_id,
                "eos_id": self.eos_id, "special": dict(self.special)}


def train_tokenizer(texts: Iterable[str], vocab_size: int, *,
                    character_coverage: float = 0.9995, max_sentence_length: int = 16384,
                    input_sentence_size: int = 2_000_000, num_threads: int = 2,
                    progress: Callable[[int], None] | None = None) -> Tokenizer:
    """Train a BPE tokenizer on an iterator of documents; the caller saves `tok.serialized()`.

    Documents are split on newlines into training sentences (SentencePiece's unit).
    `progress(n)` is called with the number of sentences fed so far.
    """
    if vocab_size < len(SPECIAL_TOKENS) + 3 + 256 + 8:
        raise TokenizerError(f"vocab size {vocab_size} is too small: byte fallback alone needs 256 ids "
                             f"plus {len(SPECIAL_TOKENS) + 3} special ones; use at least 300")

    def sentences() -> Iterator[str]:
        n = 0
        for doc in texts:
            for line in doc.split("\n"):
                line = line.strip("\r")
                if line.strip():
                    n += 1
                    if progress is not None and n % 1000 == 0:
                        progress(n)
                    yield line[:max_sentence_length]
        if progress is not None:
            progress(n)

    proto = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences(), model_writer=proto, vocab_size=vocab_size, model_type="bpe",
            byte_fallback=True, split_digits=True, character_coverage=character_coverage,
            normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
            allow_whitespace_only_pieces=True, split_by_whitespace=True,
            max_sentence_length=max_sentence_length, input_sentence_size=input_sentence_size,
            shuffle_input_sentence=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            control_symbols=list(SPECIAL_TOKENS), user_defined_symbols=["\n"],
            hard_vocab_limit=True, num_threads=num_threads, minloglevel=2, train_extremely_large_corpus=False,
        )
    except RuntimeError as e:
        msg = str(e)
        if "Vocabulary size is smaller than required_chars" in msg or "Vocabulary size too high" in msg:
            raise TokenizerError(f"vocab size {vocab_size} does not suit this corpus ({msg.strip()}); "
                                 "try a smaller --vocab-size or more text") from None
        raise TokenizerError(f"SentencePiece training failed: {msg.strip()}") from None
    return Tokenizer.from_bytes(proto.getvalue())
