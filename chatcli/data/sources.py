"""Corpus sources: parse `PATH[@WEIGHT]` / `hf:NAME[:SPLIT][@WEIGHT]` specs and read their records.

Every reader (plain text, JSONL, Hugging Face) yields `(where, record)` pairs and every JSON-like
record goes through the one function `record_to_document`, so the HF path is tested with the same
code as local JSONL. Documents come in three kinds:
    text  {"text": str}                       (plain text files: documents separated by blank lines)
    chat  {"messages": [{"role", "content"}, ...]}
    pref  {"prompt": str | messages, "chosen": str | messages, "rejected": str | messages}  (TRL shape)
Non-UTF-8 files are an error naming the file (we never guess an encoding). `iter_json_lines` /
`read_jsonl` are the project's one JSONL reader (chatcli, recipes and tests all use them).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatcli.errors import ChatcliError

TEXT_SUFFIXES = (".txt", ".md")
JSON_SUFFIXES = (".jsonl", ".json")
ROLES = ("system", "user", "assistant")
_BLANK = re.compile(r"\n(?:[ \t\r]*\n)+")


@dataclass
class Document:
    kind: str  # "text" | "chat" | "pref"
    text: str = ""
    messages: list[dict] = field(default_factory=list)
    prompt: list[dict] = field(default_factory=list)
    chosen: str = ""
    rejected: str = ""

    def plain_text(self) -> str:
        """All the text of the document (what a tokenizer should learn from)."""
        if self.kind == "text":
            return self.text
        if self.kind == "chat":
            return "\n".join(m["content"] for m in self.messages)
        return "\n".join([*(m["content"] for m in self.prompt), self.chosen, self.rejected])


@dataclass
class Source:
    spec: str
    weight: float = 1.0
    path: Path | None = None
    hf_name: str | None = None
    hf_split: str = "train"

    def files(self) -> list[Path]:
        """Files this source reads, in a fixed order (empty for HF sources)."""
        if self.path is None:
            return []
        if self.path.is_dir():
            found = [p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + JSON_SUFFIXES]
            return sorted(found)
        return [self.path]

    def fingerprint(self) -> list:
        """Identity of the inputs for cache keys: paths, sizes, mtimes (or the HF name and split)."""
        if self.path is None:
            return ["hf", self.hf_name, self.hf_split, self.weight]
        out: list = [self.weight]
        for p in self.files():
            st = p.stat()
            out.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
        return out


def parse_source(spec: str) -> Source:
    """`PATH`, `PATH@W`, `hf:NAME`, `hf:NAME:SPLIT`, `hf:NAME:SPLIT@W` (W a positive number)."""
    body, weight = spec, 1.0
    m = re.fullmatch(r"(.*)@([0-9]*\.?[0-9]+)", spec)
    if m and not (not spec.startswith("hf:") and Path(spec).exists()):
        body, weight = m.group(1), float(m.group(2))
        if weight <= 0:
            raise ChatcliError(f"{spec}: weight must be positive")
    if body.startswith("hf:"):
        name, _, split = body[3:].partition(":")
        if not name:
            raise ChatcliError(f"{spec}: expected hf:NAME[:SPLIT]")
        return Source(spec, weight, hf_name=name, hf_split=split or "train")
    path = Path(body).expanduser()
    if not path.exists():
        raise ChatcliError(f"{body}: no such file or directory")
    return Source(spec, weight, path=path)


def _messages(value: Any, where: str, what: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise ChatcliError(f"{where}: \"{what}\" must be a non-empty list of messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
            raise ChatcliError(f"{where}: {what}[{i}] needs a role in {'/'.join(ROLES)} and a string content")
        if m["role"] == "system" and i != 0:
            raise ChatcliError(f"{where}: {what}[{i}]: a system message may only come first")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _response(value: Any, where: str, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # TRL conversational form: [{"role": "assistant", "content": ...}]
        msgs = _messages(value, where, what)
        return "".join(m["content"] for m in msgs if m["role"] == "assistant")
    raise ChatcliError(f"{where}: \"{what}\" must be a string or a list of messages")


def record_to_document(record: Any, where: str) -> Document:
    """One JSON record (from a JSONL line or a Hugging Face row) to a Document; errors name `where`."""
    if not isinstance(record, dict):
        raise ChatcliError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "chosen" in record or "rejected" in record:
        if "chosen" not in record or "rejected" not in record:
            raise ChatcliError(f"{where}: a preference record needs both \"chosen\" and \"rejected\"")
        prompt = record.get("prompt", "")
        prompt_msgs = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else _messages(prompt, where, "prompt")
        return Document("pref", prompt=prompt_msgs, chosen=_response(record["chosen"], where, "chosen"),
                        rejected=_response(record["rejected"], where, "rejected"))
    if "messages" in record:
        return Document("chat", messages=_messages(record["messages"], where, "messages"))
    if "text" in record:
        if not isinstance(record["text"], str):
            raise ChatcliError(f"{where}: \"text\" must be a string")
        return Document("text", text=record["text"])
    raise ChatcliError(f"{where}: record has none of \"text\", \"messages\", \"chosen\"/\"rejected\"")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ChatcliError(f"{path}: not UTF-8 text (invalid byte at offset {e.start}); "
                           "convert it first, e.g. iconv -f latin1 -t utf-8") from None
    except OSError as e:
        raise ChatcliError(f"{path}: cannot read ({e.strerror})") from None


def split_documents(text: str) -> list[str]:
    """Plain text -> documents separated by blank lines (empty ones dropped)."""
    return [d.strip("\n") for d in _BLANK.split(text) if d.strip()]


def iter_json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """The one JSONL reader: (where, value) for each non-blank line, where = "path:line".

    A line that is not JSON is a one-line ChatcliError "FILE:LINE: invalid JSON (...)"."""
    for lineno, line in enumerate(_read_text(Path(path)).split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as e:
            raise ChatcliError(f"{where}: invalid JSON ({e.msg})") from None


def read_jsonl(path: Path) -> list:
    """The records of a JSONL file (iter_json_lines without the line names)."""
    return [rec for _, rec in iter_json_lines(path)]


def iter_file(path: Path) -> Iterator[Document]:
    if path.suffix.lower() in JSON_SUFFIXES:
        for where, record in iter_json_lines(path):
            yield record_to_document(record, where)
    else:
        for doc in split_documents(_read_text(path)):
            yield Document("text", text=doc)


def _load_dataset() -> Callable:
    try:
        import datasets  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ChatcliError("hf: sources need the optional `datasets` package: pip install 'chatcli[hf]'") from None
    return datasets.load_dataset


def iter_hf(name: str, split: str) -> Iterator[Document]:
    load_dataset = _load_dataset()
    try:
        ds = load_dataset(name, split=split)
    except Exception as e:  # datasets raises many types (FileNotFoundError, ValueError, ConnectionError ...)
        raise ChatcliError(f"hf:{name}:{split}: cannot load dataset ({type(e).__name__}: {e})") from None
    for i, row in enumerate(ds):
        yield record_to_document(dict(row), f"hf:{name}:{split}:{i}")


def iter_source(src: Source) -> Iterator[Document]:
    if src.hf_name is not None:
        yield from iter_hf(src.hf_name, src.hf_split)
        return
    files = src.files()
    if not files:
        raise ChatcliError(f"{src.path}: no .txt, .md or .jsonl files found")
    for path in files:
        yield from iter_file(path)
