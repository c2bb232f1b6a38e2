"""The SQLite conversation log: what chat writes, what `chatcli logs` shows, and continuing with -c,
--cid and --load (all under the tmp CHATCLI_HOME that conftest sets)."""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.chat.ui import printable
from chatcli.errors import ChatcliError
from chatcli.logs import LogStore, log_path


def cli(*args, input=None, env=None):
    return CliRunner().invoke(app, list(args), input=input, env=env)


def ok(result):
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def test_log_path_follows_chatcli_home_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("CHATCLI_HOME", str(tmp_path / "h"))
    assert log_path() == tmp_path / "h" / "logs.db"
    monkeypatch.delenv("CHATCLI_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert log_path() == tmp_path / "x" / "chatcli" / "logs.db"


def test_store_turns_prefixes_retry_and_search(tmp_path):
    store = LogStore(tmp_path / "logs.db")
    a = store.new_conversation(model="m", system="be brief", source="chat")
    store.add_turn(a, "hello", "hi there", seed=3)
    store.add_turn(a, "again", "first try")
    store.add_turn(a, "again", "second try", replaces_last=True)
    b = store.new_conversation(model="m", system=None, source="oneshot")
    store.add_turn(b, "what is a poem", "words")
    assert store.resolve(a[:5]) == a and store.last_id() == b
    with pytest.raises(ChatcliError, match="no conversation"):
        store.resolve("zzzz")
    system, history = store.messages(a)
    assert system == "be brief"
    assert [m["content"] for m in history] == ["hello", "hi there", "again", "second try"]
    assert [t["replaced"] for t in store.turns(a, include_replaced=True)] == [False, True, False]
    rows = store.conversations()
    assert [r["id"] for r in rows] == [b, a] and rows[1]["turns"] == 2 and rows[1]["first_prompt"] == "hello"
    assert [r["id"] for r in store.conversations(query="POEM")] == [b]
    store.close()
    again = LogStore(tmp_path / "logs.db")  # reopening keeps everything
    assert len(again.conversations(limit=None)) == 2


def test_one_shot_is_logged_and_continued_with_c_and_cid(model_dir):
    first = ok(cli("chat", "--model", str(model_dir), "the king said", "--seed", "1", "-n", "6"))
    listed = json.loads(ok(cli("logs", "--json")).stdout)
    assert len(listed) == 1 and listed[0]["turns"] == 1 and listed[0]["source"] == "oneshot"
    cid = listed[0]["id"]
    shown = json.loads(ok(cli("logs", "show", cid[:4], "--json")).stdout)
    turn = shown["turns"][0]
    assert turn["prompt"] == "the king said"
    assert printable(turn["answer"]) == first.stdout.rstrip("\n")  # the log keeps the exact text
    assert turn["completion_tokens"] <= 6 and turn["seed"] == 1 and turn["settings"]["max_tokens"] == 6
    # -c continues it: same conversation, and the earlier turn is part of the prompt
    ok(cli("chat", "--model", str(model_dir), "-c", "and then", "--seed", "2", "-n", "4"))
    ok(cli("chat", "--model", str(model_dir), "--cid", cid, "more", "--seed", "3", "-n", "4"))
    turns = json.loads(ok(cli("logs", "show", "--json")).stdout)["turns"]
    assert [t["prompt"] for t in turns] == ["the king said", "and then", "more"]
    assert turns[1]["prompt_tokens"] > turns[0]["prompt_tokens"] + turns[0]["completion_tokens"]
    assert len(json.loads(ok(cli("logs", "--json")).stdout)) == 1
    text = ok(cli("logs")).stdout
    assert cid in text and "3 turns" in text and "the king said" in text


def test_no_log_and_env_opt_out(model_dir):
    ok(cli("chat", "--model", str(model_dir), "hi", "-n", "2", "--no-log"))
    ok(cli("chat", "--model", str(model_dir), "hi", "-n", "2", env={"CHATCLI_NO_LOG": "1"}))
    assert json.loads(ok(cli("logs", "--json")).stdout) == []
    assert "no conversations logged yet" in ok(cli("logs")).stdout


def test_continue_errors_are_one_line(model_dir, tmp_path):
    r = cli("chat", "--model", str(model_dir), "-c", "hi")
    assert r.exit_code == 1 and "no conversation to continue" in r.stderr
    ok(cli("chat", "--model", str(model_dir), "hi", "-n", "2"))
    r = cli("chat", "--model", str(model_dir), "--cid", "ffffffffffff", "hi")
    assert r.exit_code == 1 and "no conversation 'ffffffffffff'" in r.stderr
    r = cli("chat", "--model", str(model_dir), "-c", "--load", str(tmp_path / "x.json"), "hi")
    assert r.exit_code == 1 and "cannot be combined" in r.stderr
    r = cli("chat", "--model", str(model_dir), "-c", "--raw", "hi")
    assert r.exit_code == 1 and "--raw" in r.stderr
    r = cli("logs", "show", "nope")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1


def test_load_file_starts_a_logged_conversation_with_its_turns(model_dir, tmp_path):
    saved = tmp_path / "conv.json"
    saved.write_text(json.dumps({"system": "You are terse.", "messages": [
        {"role": "user", "content": "first question"}, {"role": "assistant", "content": "first answer"}]}))
    ok(cli("chat", "--model", str(model_dir), "--load", str(saved), "follow up", "-n", "3", "--seed", "1"))
    shown = json.loads(ok(cli("logs", "show", "--json")).stdout)
    assert shown["system"] == "You are terse."
    assert [(t["prompt"], t["answer"]) for t in shown["turns"]][0] == ("first question", "first answer")
    assert shown["turns"][1]["prompt"] == "follow up" and len(shown["turns"]) == 2


def test_logs_path_prints_the_database(tmp_path):
    assert ok(cli("logs", "path", env={"CHATCLI_HOME": str(tmp_path)})).stdout.strip() == str(tmp_path / "logs.db")
    assert not os.path.exists(tmp_path / "logs.db")
