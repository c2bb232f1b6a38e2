"""benchmarks/chat_eval.py: its wordings are not training's, its scorer reads replies as a user would."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from recipes.tasks import dialogue, mix

REPO = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ce = _load("chat_eval")


def _training_forms() -> list[str]:
    """Every training question template (dialogue and follow-ups), as a regex with placeholders as wildcards."""
    forms = []
    for name in dir(dialogue) + dir(mix):
        mod = dialogue if hasattr(dialogue, name) else mix
        val = getattr(mod, name)
        if name.isupper() and isinstance(val, list):
            for v in val:
                if isinstance(v, str):
                    forms.append(v)
                elif isinstance(v, tuple) and isinstance(v[0], list):
                    forms += v[0]
    return forms


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{[a-zA-Z]\}", template)
    return re.compile("^" + r"\S+".join(re.escape(p) for p in parts) + "$", re.I)  # a placeholder: one token


def test_eval_prompts_are_never_training_wordings():
    items = [json.loads(x) for x in (REPO / "benchmarks" / "chat_eval.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(items) >= 150 and {it["family"] for it in items} >= set(ce.HEADLINE)
    patterns = [_pattern(f) for f in _training_forms()]
    assert len(patterns) > 100
    for it in items:
        q = it["prompt"].strip()
        for variant in {q, q.rstrip("?.!？。"), q.lower()}:
            assert not any(p.match(variant) for p in patterns), f"eval prompt is a training wording: {q!r}"


@pytest.mark.parametrize("item,reply,ok", [
    ({"family": "arithmetic", "answer": "42"}, "17 + 25: 7 + 5 = 12, write 2 carry 1; 1 + 2 + 1 = 4. So the answer is 42.", True),
    ({"family": "arithmetic", "answer": "42"}, "So the answer is 43.", False),
    ({"family": "arithmetic", "answer": "-7"}, "So the answer is -7.", True),
    ({"family": "letters", "answer": "3"}, "banana is spelled b-a-n-a-n-a. Counting a: ... So the answer is 3.", True),
    ({"family": "reverse", "answer": "esuoh"}, "Numbered: 1 h. Backwards: 1 h. So the answer is esuoh.", True),
    ({"family": "reverse", "answer": "esuoh"}, "So the answer is esuo.", False),
    ({"family": "meaning", "answer": "frozen water"}, "\"snow\" means frozen water.", True),
    ({"family": "meaning", "answer": "frozen water"}, "\"snow\" means cold rain.", False),
    ({"family": "chinese", "answer": "雪"}, "\"snow\" in Chinese is 雪.", True),
    ({"family": "poems", "answer": "疑是地上霜"}, "疑是地上霜。", True),
    ({"family": "identity", "expect_any": ["don't know"]}, "I don’t know that.", True),
    ({"family": "identity", "expect_any": ["chatcli"]}, "I am a model.", False),
])
def test_scoring(item, reply, ok):
    assert ce.correct(item, reply) is ok


def test_build_and_run_end_to_end(tmp_path, model_dir):
    scope = {"words": [{"word": w, "gloss": f"gloss of {w}", "zh": z} for w, z in
                       [("house", "房子"), ("water", "水"), ("river", "河"), ("garden", ""), ("bird", "鸟")] * 10],
             "poems": [{"title": "静夜思", "author": "李白", "lines": ["床前看月光", "疑是地上霜", "举头望山月", "低头思故乡"]}] * 8}
    (tmp_path / "scope.json").write_text(json.dumps(scope, ensure_ascii=False), encoding="utf-8")
    path = tmp_path / "eval.jsonl"
    n = ce.build(tmp_path / "scope.json", path)
    assert n == len(path.read_text(encoding="utf-8").splitlines()) > 100
    res = ce.run(model_dir, path, limit=4)  # a random tiny model: the plumbing, not the score
    assert res["items"] == 4 and set(res["families"]) == {"identity"} and 0 <= res["overall"] <= 1
    assert all("reply" in r and r.get("error") is None for r in res["results"])
