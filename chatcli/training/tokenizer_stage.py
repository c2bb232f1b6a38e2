"""`train tokenizer`: SentencePiece on every document's text (chat and preference text included)."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from chatcli.data.corpus import load_corpus
from model.checkpoint import atomic_write_bytes
from tokenizer.sp import MODEL_FILE, train_tokenizer


def train_tokenizer_on(data: Sequence[str], vocab_size: int, out: Path, *, threads: int = 2) -> Path:
    """Train on the inputs and write out/tokenizer.model atomically; returns its path."""
    corpus = load_corpus(data, what="text")
    texts = [d.plain_text() for d in corpus.all_docs()]
    if sys.stderr.isatty():
        from rich.progress import Progress, SpinnerColumn, TextColumn

        from chatcli.render import err_console
        with Progress(SpinnerColumn(), TextColumn("tokenizer: {task.description}"), console=err_console(),
                      transient=True) as progress:
            task = progress.add_task(f"reading {len(texts)} documents")
            tok = train_tokenizer(texts, vocab_size, num_threads=threads,
                                  progress=lambda n: progress.update(task, description=f"{n:,} sentences fed"))
    else:
        print(f"tokenizer: training vocab {vocab_size} on {len(texts)} documents", file=sys.stderr, flush=True)
        tok = train_tokenizer(texts, vocab_size, num_threads=threads)
    path = Path(out) / MODEL_FILE
    atomic_write_bytes(path, tok.serialized())
    print(f"tokenizer: wrote {path} ({tok.vocab_size} tokens)", file=sys.stderr, flush=True)
    return path
