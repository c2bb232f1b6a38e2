"""Exact-match evaluation of a model bundle on task test slices (greedy decoding), and the slices:
the task families (FAMILIES), the shipped held-out slices (testsets/<family>.jsonl, package data) and
reading a slice file or directory given with `chatcli eval --tasks --tasks-dir` (recipes/tasks builds them).

Chat models get the chat template (prompt ends with the assistant marker, generation stops at
<|end|>); base models, or `fmt="raw"`, get "Q: ...\\nA:" and the answer runs to the end of the line.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from chatcli.data.sources import read_jsonl
from chatcli.errors import ChatcliError
from chatcli.tasks.scoring import question_of, raw_prompt, score
from chatcli.tasks.working import solution_of

FAMILIES = ("arithmetic", "count_letter", "reverse", "meaning", "translate", "poem_next", "chatcli")
TESTSETS_DIR = Path(__file__).resolve().parent / "testsets"


def load_test_items(source=None) -> list[dict]:
    """Test items from a list, a JSONL file or a directory of <family>.jsonl; None means the shipped slices."""
    if isinstance(source, (list, tuple)):
        return list(source)
    if source is None:
        return [it for f in FAMILIES if (TESTSETS_DIR / f"{f}.jsonl").exists()
                for it in read_jsonl(TESTSETS_DIR / f"{f}.jsonl")]
    path = Path(source)
    if path.is_file():
        return read_jsonl(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise ChatcliError(f"{path}: no *.jsonl test slices")
        return [it for p in files for it in read_jsonl(p)]
    raise ChatcliError(f"{path}: no such test file or directory")


def generate_reply(bundle, ids: list[int], stop_ids: list[int], max_tokens: int, stop_newline: bool = False, *,
                   temperature: float = 0.0, generator=None, engine=None) -> str:
    """Decode a reply after prompt ids (greedy unless temperature > 0); stop_newline ends it at a line break.

    engine: a model.engine decode engine built once by the caller (default: the model itself)."""
    from model.generate import decode_n
    from model.sampling import SamplingConfig
    sampling = SamplingConfig(temperature=temperature, repeat_penalty=1.0, max_tokens=max_tokens, top_p=1.0)
    out: list[int] = []
    for tid in decode_n(engine or bundle.model, ids, sampling, stop_ids=stop_ids, generator=generator):
        out.append(tid)
        if stop_newline and "\n" in bundle.tokenizer.decode(out[-4:]):
            break
    return bundle.tokenizer.decode(out)


def evaluate_tasks(bundle, tests=None, max_per_family: int | None = None, *, fmt: str = "auto",
                   families: list[str] | None = None, samples: int = 3,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Per-family exact-match accuracy of a Bundle on test items.

    tests: None (built-in slices), a directory of <family>.jsonl, one JSONL file, or a list of items.
    fmt: "chat", "raw" or "auto" (chat when the tokenizer has chat markers).
    Returns {"format", "n", "average" (mean of the family accuracies), "time_s",
             "families": {family: {"n", "correct", "accuracy", "samples": [{"question", "answer", "output", "correct"}]}}}.
    """
    items = load_test_items(tests)
    if families:
        items = [it for it in items if it["family"] in families]
    if max_per_family is not None:
        kept, seen = [], {}
        for it in items:
            seen[it["family"]] = seen.get(it["family"], 0) + 1
            if seen[it["family"]] <= max_per_family:
                kept.append(it)
        items = kept
    template = bundle.template
    if fmt == "auto":
        fmt = "chat" if template is not None else "raw"
    if fmt == "chat" and template is None:
        raise ValueError("this model's tokenizer has no chat markers; evaluate with fmt='raw'")
    tok = bundle.tokenizer
    max_len = bundle.model.config.max_seq_len
    order = {f: i for i, f in enumerate(FAMILIES)}
    fams: dict[str, dict] = {}
    t0 = time.perf_counter()
    bundle.model.eval()
    from model.compiled import make_engine
    engine = make_engine(bundle.model, "fast")
    for k, it in enumerate(items):
        if fmt == "chat":
            ids = template.render_prompt(it["prompt"])
            stop = template.stop_ids
        else:
            ids = [tok.bos_id, *tok.encode(raw_prompt(question_of(it)))]
            stop = [tok.eos_id]
        budget = max(len(tok.encode(a)) for a in [it["answer"], *it.get("accept", [])]) + 8
        worked = solution_of(it) if fmt == "chat" else None  # room to show the working
        budget = len(tok.encode(worked)) + 16 if worked else min(budget, 96)
        if len(ids) + 1 > max_len:
            output = ""  # prompt does not fit the context: counted wrong
        else:
            output = generate_reply(bundle, ids, stop, min(budget, max_len - len(ids)), fmt == "raw", engine=engine)
        ok = score(it, output)
        r = fams.setdefault(it["family"], {"n": 0, "correct": 0, "samples": []})
        r["n"] += 1
        r["correct"] += int(ok)
        if len(r["samples"]) < samples:
            r["samples"].append({"question": question_of(it), "answer": it["answer"],
                                 "output": output.strip(),
                                 "correct": ok})
        if progress:
            progress(k + 1, len(items))
    for r in fams.values():
        r["accuracy"] = r["correct"] / r["n"] if r["n"] else 0.0
    ordered = dict(sorted(fams.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    accs = [r["accuracy"] for r in ordered.values()]
    return {"format": fmt, "n": len(items), "average": sum(accs) / len(accs) if accs else 0.0,
            "time_s": round(time.perf_counter() - t0, 2), "families": ordered}
