"""Load sources into documents, split them train/val by document, and mix them by weight.

Weights (`PATH@W`) act by repetition: a source of weight W contributes its training documents
W times (a fractional part keeps a deterministic subset of one more copy). Validation documents
are chosen BEFORE repetition, per document, by a hash of (seed, source index, document index),
so a document is never in both splits and the split does not depend on the other sources.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatcli.data.sources import Document, Source, iter_source, parse_source
from chatcli.errors import ChatcliError


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across runs and machines)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0 ** 64


@dataclass
class Corpus:
    sources: list[Source]
    docs: list[list[Document]]  # per source, in reading order

    def __len__(self) -> int:
        return sum(len(d) for d in self.docs)

    def all_docs(self) -> Iterable[Document]:
        for docs in self.docs:
            yield from docs

    def split(self, val_frac: float, seed: int) -> tuple[list[Document], list[Document]]:
        """(train docs mixed by weight, val docs once each), deterministic by document."""
        train: list[Document] = []
        val: list[Document] = []
        for si, (src, docs) in enumerate(zip(self.sources, self.docs)):
            mine = []
            n_val = 0
            for di, doc in enumerate(docs):
                if val_frac > 0 and unit_hash("val", seed, si, di) < val_frac:
                    val.append(doc)
                    n_val += 1
                else:
                    mine.append(doc)
            if val_frac > 0 and n_val == 0 and len(docs) >= 2:  # small sources still give a held-out doc
                val.append(mine.pop(len(mine) // 2))
            train.extend(repeat_by_weight(mine, src.weight, seed, si))
        return train, val


def repeat_by_weight(docs: Sequence[Document], weight: float, seed: int, source_index: int) -> list[Document]:
    whole = math.floor(weight)
    frac = weight - whole
    out = [d for _ in range(whole) for d in docs]
    if frac > 0:
        out.extend(d for i, d in enumerate(docs) if unit_hash("w", seed, source_index, i) < frac)
    return out


def load_corpus(specs: Sequence[str], kinds: Sequence[str] | None = None, *, what: str = "training") -> Corpus:
    """Read every source; keep documents whose kind is in `kinds` (all when None)."""
    if not specs:
        raise ChatcliError("no input data given")
    sources = [parse_source(s) for s in specs]
    docs = []
    for src in sources:
        mine = [d for d in iter_source(src) if kinds is None or d.kind in kinds]
        docs.append(mine)
    corpus = Corpus(sources, docs)
    if len(corpus) == 0:
        wanted = f" of kind {'/'.join(kinds)}" if kinds else ""
        raise ChatcliError(f"empty corpus: no {what} documents{wanted} in {', '.join(specs)}")
    return corpus
