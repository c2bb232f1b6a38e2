"""`train pairs`: on-policy preference pairs, scored by the task verifiers.

Offline pairs (a correct reply against a hand-made wrong one) teach the model to prefer answers it
would not have written anyway. On-policy pairs use the model's own mistakes instead: the SFT model
answers each prompt of a preference file greedily (as `chatcli eval` does); when the task's
exact-match scorer says the answer is wrong, that answer becomes the rejected reply and the file's
correct reply the chosen one. When the greedy answer is right, one sampled answer is drawn, and a
wrong sample is rejected against the model's own correct answer. Prompts the model gets right both
ways give no pair. This is the reward-model-free form of RLHF: the verifier plays the reward model
and DPO the policy update.

Records need "family" and "answer" (and optionally "accept") besides prompt/chosen/rejected, as
recipes/prepare_data.py writes them, so that the answers can be scored.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import torch

from chatcli.errors import ChatcliError
from chatcli.tasks.evaluate import FAMILIES, generate_reply
from chatcli.tasks.scoring import score


def check_record(r: dict, where: str) -> None:
    """A record that can be scored: prompt messages, a chosen reply, a known family and its answer."""
    missing = [k for k in ("prompt", "chosen", "family", "answer") if k not in r]
    if missing:
        raise ChatcliError(f"{where}: on-policy pairs need {', '.join(missing)} in every record "
                           "(the task's answer is what the model's replies are scored against)")
    if r["family"] not in FAMILIES:
        raise ChatcliError(f"{where}: unknown task family {r['family']!r} (known: {', '.join(FAMILIES)})")
    if not isinstance(r["prompt"], list):
        raise ChatcliError(f"{where}: \"prompt\" must be a list of chat messages")


def balanced(records: list[dict], n: int, seed: int) -> list[dict]:
    """Up to n records, shared evenly between the families present (shuffled with seed)."""
    rng = random.Random(seed)
    by_family: dict[str, list[dict]] = {}
    for r in records:
        by_family.setdefault(r["family"], []).append(r)
    per = max(1, n // max(1, len(by_family)))
    picked = []
    for fam in sorted(by_family):
        rs = by_family[fam][:]
        rng.shuffle(rs)
        picked += rs[:per]
    rng.shuffle(picked)
    return picked[:n]


def pair_for(bundle, r: dict, temperature: float, gen: torch.Generator, engine=None) -> tuple[dict | None, bool]:
    """(the on-policy pair for record r or None, whether the greedy reply was right)."""
    item = {"family": r["family"], "prompt": r["prompt"], "answer": r["answer"], "accept": r.get("accept", [])}
    ids = bundle.template.render_prompt(r["prompt"])
    stop = bundle.template.stop_ids
    budget = min(len(bundle.tokenizer.encode(r["chosen"])) + 16, bundle.model.config.max_seq_len - len(ids))
    if budget < 1:
        return None, False  # the prompt fills the context
    greedy = generate_reply(bundle, ids, stop, budget, engine=engine).strip()
    right = score(item, greedy)
    if not right:
        chosen, rejected = r["chosen"], greedy
    else:
        sample = generate_reply(bundle, ids, stop, budget, temperature=temperature, generator=gen,
                                engine=engine).strip()
        if score(item, sample):
            return None, True  # right both ways: nothing to learn from this prompt
        chosen, rejected = greedy, sample
    # an empty reply (the model ended at once) is a wrong answer too, and a fine rejected one
    if rejected == chosen:
        return None, right
    return {"prompt": r["prompt"], "chosen": chosen, "rejected": rejected, "family": r["family"],
            "answer": r["answer"], "accept": item["accept"], "on_policy": True}, right


def on_policy_pairs(bundle, records: list[dict], *, temperature: float = 1.0, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[dict], dict]:
    """(pairs, stats): stats[family] = {"prompts", "greedy_correct", "pairs"}."""
    if bundle.template is None:
        raise ChatcliError(f"{bundle.path}: on-policy pairs need a chat model (its tokenizer has no chat markers)")
    gen = torch.Generator(device=bundle.device).manual_seed(seed)
    pairs, stats = [], {}
    bundle.model.eval()
    from model.compiled import make_engine
    engine = make_engine(bundle.model, "fast")  # one decode engine for every prompt
    for k, r in enumerate(records):
        pair, right = pair_for(bundle, r, temperature, gen, engine)
        st = stats.setdefault(r["family"], {"prompts": 0, "greedy_correct": 0, "pairs": 0})
        st["prompts"] += 1
        st["greedy_correct"] += int(right)
        if pair is not None:
            pairs.append(pair)
            st["pairs"] += 1
        if progress:
            progress(k + 1, len(records))
    return pairs, dict(sorted(stats.items()))


def read_records(path: Path) -> list[dict]:
    """A preference JSONL file; a malformed line is named in the error."""
    from chatcli.data.sources import iter_json_lines
    if not Path(path).is_file():
        raise ChatcliError(f"{path}: no such file")
    records = []
    for where, rec in iter_json_lines(Path(path)):
        if not isinstance(rec, dict):
            raise ChatcliError(f"{where}: expected a JSON object")
        check_record(rec, where)
        records.append(rec)
    if not records:
        raise ChatcliError(f"{path}: no records")
    return records


def make_pairs(data: Path, model_dir: Path | None, out: Path, *, n: int = 700, temperature: float = 1.0,
               seed: int = 0, device: str = "auto") -> dict:
    """Sample the model on up to n prompts of `data` (evenly per family), write the pairs to `out`."""
    import sys
    import time

    from chatcli.bundle import load_bundle
    from chatcli.device import resolve_device
    from model.checkpoint import atomic_write_jsonl
    if n <= 0:
        raise ChatcliError("--n must be positive")
    if temperature <= 0:
        raise ChatcliError("--temperature must be positive (the sampled reply is the second try)")
    records = balanced(read_records(data), n, seed)
    bundle = load_bundle(model_dir, device=resolve_device(device))
    t0 = time.perf_counter()
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from chatcli.render import err_console
        with Progress(TextColumn("[bold]pairs[/bold]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err_console(), transient=True) as bar:
            task = bar.add_task("sampling", total=len(records))
            pairs, stats = on_policy_pairs(bundle, records, temperature=temperature, seed=seed,
                                           progress=lambda k, _: bar.update(task, completed=k))
    else:
        pairs, stats = on_policy_pairs(bundle, records, temperature=temperature, seed=seed)
    atomic_write_jsonl(Path(out), pairs)
    return {"prompts": len(records), "pairs": len(pairs), "time_s": round(time.perf_counter() - t0, 1),
            "families": stats, "model": str(bundle.path), "out": str(out)}
