"""recipes/chat_notes.py: the banner's notes come from the measured chat-eval, and the banner shows them."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("chat_notes", ROOT / "recipes" / "chat_notes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _eval() -> dict:
    fams = {"arithmetic": 0.9, "poems": 0.5, "identity": 1.0, "letters": 0.2, "reverse": 0.1, "meaning": 0.0,
            "chinese": 0.3}
    results = [{"family": "identity", "prompt": "who r u", "ok": False},
               {"family": "identity", "prompt": "your name?", "ok": True},
               {"family": "arithmetic", "prompt": "2+2", "ok": True},
               {"family": "poems", "prompt": "two\nlines", "ok": True},  # multi-line: not offered
               {"family": "poems", "prompt": "next line of 静夜思", "ok": True},
               {"family": "letters", "prompt": "count a in banana", "ok": True}]
    return {"families": {f: {"acc": a} for f, a in fams.items()}, "results": results}


def test_notes_rank_families_and_offer_prompts_it_got_right():
    notes = _module().notes(_eval())
    assert notes["examples"] == ["your name?", "2+2", "next line of 静夜思"]
    can = notes["can"]
    assert can.index("who it is") < can.index("add and subtract") < can.index("Tang") < can.index("Chinese")
    assert "(100%)" in can and "(0%)" in can and notes["cannot"]


def test_main_writes_the_chat_section_atomically_and_the_banner_reads_it(tmp_path, model_dir):
    import shutil

    from chatcli.bundle import load_bundle
    from chatcli.chat.repl import expectations
    out = tmp_path / "run"
    shutil.copytree(model_dir, out / "model")
    (out / "eval").mkdir()
    (out / "eval" / "chat_eval_dpo.json").write_text(json.dumps(_eval()), encoding="utf-8")
    assert _module().main(out) == 0
    assert not list((out / "model").glob("*.tmp"))
    got = expectations(load_bundle(out / "model"))
    assert got["examples"] == ["your name?", "2+2", "next line of 静夜思"] and "Tang" in got["can"]
    assert _module().main(tmp_path / "nothing") == 1
