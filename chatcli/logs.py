"""The conversation log: every exchange in a SQLite database, so chats last (`chat -c`, `--cid`)
and every answer can be found again (`chatcli logs`).

Location: $CHATCLI_HOME/logs.db, else $XDG_DATA_HOME/chatcli/logs.db (~/.local/share/chatcli/logs.db).
Opt out with `chat --no-log` (or CHATCLI_NO_LOG=1) or `/set nohistory` inside the REPL.

Tables:
    conversations(id, model, system, source, created, updated)       source: chat, oneshot, serve
    turns(id, conversation_id, created, prompt, answer, finish_reason, prompt_tokens,
          completion_tokens, ttft_s, prefill_tok_s, decode_tok_s, total_s, seed, settings, model,
          interrupted, replaced)
A turn answered again by /retry is kept but marked `replaced`, so continuing a conversation
restores it as it stood. Times are Unix seconds (UTC). Conversation ids are 12 hex digits; any
unique prefix names one.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chatcli.errors import ChatcliError

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, model TEXT, system TEXT, source TEXT, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created REAL NOT NULL, prompt TEXT NOT NULL, answer TEXT NOT NULL, finish_reason TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, ttft_s REAL, prefill_tok_s REAL, decode_tok_s REAL,
    total_s REAL, seed INTEGER, settings TEXT, model TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0, replaced INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated);
"""
SCHEMA_VERSION = 1
TURN_FIELDS = ("id", "created", "prompt", "answer", "finish_reason", "prompt_tokens", "completion_tokens",
               "ttft_s", "prefill_tok_s", "decode_tok_s", "total_s", "seed", "settings", "model",
               "interrupted", "replaced")


def log_path() -> Path:
    if os.environ.get("CHATCLI_HOME"):
        return Path(os.environ["CHATCLI_HOME"]).expanduser() / "logs.db"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "chatcli" / "logs.db"


def logging_disabled_by_env() -> bool:
    return os.environ.get("CHATCLI_NO_LOG", "").strip().lower() not in ("", "0", "false", "no")


class LogStore:
    """One SQLite file; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
            self.db.row_factory = sqlite3.Row
            with self.db:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise ChatcliError(f"{self.path}: written by a newer chatcli (log schema {version})")
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as e:
            raise ChatcliError(f"{self.path}: cannot open the conversation log ({e})") from None

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        try:
            with self._lock, self.db:
                return self.db.execute(sql, args)
        except sqlite3.Error as e:
            raise ChatcliError(f"{self.path}: cannot write the conversation log ({e})") from None

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # ----- writing -----
    def new_conversation(self, *, model: str | None, system: str | None, source: str) -> str:
        cid = secrets.token_hex(6)
        now = time.time()
        self._write("INSERT INTO conversations (id, model, system, source, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                    (cid, model, system, source, now, now))
        return cid

    def set_system(self, cid: str, system: str | None) -> None:
        self._write("UPDATE conversations SET system = ? WHERE id = ?", (system, cid))

    def add_turn(self, cid: str, prompt: str, answer: str, *, stats=None, seed: int | None = None,
                 settings: dict | None = None, model: str | None = None, interrupted: bool = False,
                 replaces_last: bool = False) -> int:
        now = time.time()
        s = stats.to_dict() if stats is not None else {}
        with self._lock:
            try:
                with self.db:
                    if replaces_last:
                        self.db.execute("UPDATE turns SET replaced = 1 WHERE id = (SELECT MAX(id) FROM turns "
                                        "WHERE conversation_id = ? AND replaced = 0)", (cid,))
                    cur = self.db.execute(
                        "INSERT INTO turns (conversation_id, created, prompt, answer, finish_reason, prompt_tokens, "
                        "completion_tokens, ttft_s, prefill_tok_s, decode_tok_s, total_s, seed, settings, model, "
                        "interrupted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (cid, now, prompt, answer, getattr(stats, "finish_reason", None), s.get("prompt_tokens"),
                         s.get("completion_tokens"), s.get("ttft_s"), s.get("prefill_tok_s"), s.get("decode_tok_s"),
                         round(stats.total_s, 4) if stats is not None else None, seed,
                         json.dumps(settings) if settings is not None else None, model, int(interrupted)))
                    self.db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, cid))
                    return int(cur.lastrowid)
            except sqlite3.Error as e:
                raise ChatcliError(f"{self.path}: cannot write the conversation log ({e})") from None

    def recorder(self, *, model: str, source: str) -> Callable[[dict], None]:
        """For `chatcli serve --log`: each finished exchange becomes a one-turn conversation."""
        def record(ex: dict) -> None:
            msgs = ex["messages"]
            system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else None
            cid = self.new_conversation(model=model, system=system, source=source)
            for user, answer in _pairs([m for m in msgs if m["role"] != "system"][:-1]):
                self.add_turn(cid, user, answer, model=model)
            self.add_turn(cid, msgs[-1]["content"], ex["answer"], stats=ex.get("stats"), seed=ex.get("seed"),
                          settings=ex.get("settings"), model=model)
        return record

    # ----- reading -----
    def resolve(self, ref: str) -> str:
        """A full conversation id from an id or a unique prefix of one (ChatcliError otherwise)."""
        ref = ref.strip().lower()
        if not ref:
            raise ChatcliError("empty conversation id")
        rows = self._read("SELECT id FROM conversations WHERE id LIKE ? || '%' ORDER BY updated DESC LIMIT 2",
                          (ref.replace("%", "").replace("_", ""),))
        if not rows:
            raise ChatcliError(f"no conversation {ref!r} in {self.path} (chatcli logs lists them)")
        if len(rows) > 1 and rows[0]["id"] != ref:
            raise ChatcliError(f"conversation id {ref!r} is ambiguous; give more of it")
        return rows[0]["id"]

    def last_id(self, sources: tuple[str, ...] = ("chat", "oneshot")) -> str | None:
        marks = ",".join("?" * len(sources))
        rows = self._read(f"SELECT id FROM conversations WHERE source IN ({marks}) ORDER BY updated DESC, rowid DESC "
                          "LIMIT 1", sources)
        return rows[0]["id"] if rows else None

    def conversations(self, limit: int | None = 20, query: str | None = None) -> list[dict]:
        """Newest first: id, model, system, source, created, updated, turns, first prompt."""
        where, args = "", []
        if query:
            where = ("WHERE c.id IN (SELECT conversation_id FROM turns WHERE instr(lower(prompt), lower(?)) > 0 "
                     "OR instr(lower(answer), lower(?)) > 0)")
            args = [query, query]
        sql = (f"SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id AND t.replaced = 0) AS turns, "
               f"(SELECT prompt FROM turns t WHERE t.conversation_id = c.id ORDER BY t.id LIMIT 1) AS first_prompt "
               f"FROM conversations c {where} ORDER BY c.updated DESC, c.rowid DESC")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [dict(r) for r in self._read(sql, tuple(args))]

    def conversation(self, cid: str) -> dict:
        rows = self._read("SELECT * FROM conversations WHERE id = ?", (cid,))
        if not rows:
            raise ChatcliError(f"no conversation {cid!r} in {self.path}")
        return dict(rows[0])

    def turns(self, cid: str, *, include_replaced: bool = False) -> list[dict]:
        extra = "" if include_replaced else " AND replaced = 0"
        rows = self._read(f"SELECT {', '.join(TURN_FIELDS)} FROM turns WHERE conversation_id = ?{extra} ORDER BY id",
                          (cid,))
        out = []
        for r in rows:
            d = dict(r)
            d["settings"] = json.loads(d["settings"]) if d["settings"] else None
            d["interrupted"], d["replaced"] = bool(d["interrupted"]), bool(d["replaced"])
            out.append(d)
        return out

    def messages(self, cid: str) -> tuple[str | None, list[dict]]:
        """(system, history) of a conversation as it stands, ready for ChatSession.set_history."""
        history: list[dict] = []
        for t in self.turns(cid):
            answer = {"role": "assistant", "content": t["answer"]}
            if t["interrupted"]:
                answer["interrupted"] = True
            history += [{"role": "user", "content": t["prompt"]}, answer]
        return self.conversation(cid)["system"], history


def _pairs(messages: list[dict]) -> list[tuple[str, str]]:
    """(user, assistant) pairs of a history; a user message without an answer pairs with ''."""
    out, user = [], None
    for m in messages:
        if m["role"] == "user":
            if user is not None:
                out.append((user, ""))
            user = m["content"]
        elif m["role"] == "assistant":
            out.append((user or "", m["content"]))
            user = None
    if user is not None:
        out.append((user, ""))
    return out


def open_store(path: str | Path | None = None) -> LogStore:
    return LogStore(path or log_path())


class ChatLog:
    """Logs a ChatSession's exchanges as they happen (REPL and one-shot).

    The conversation row is created at the first logged turn, so a chat with no answers leaves
    nothing behind. `restart()` (after /clear or /load) makes the next turn open a new one.
    Writing errors are reported once through `warn` and logging stops; chatting never fails.
    """

    def __init__(self, store: LogStore | None, *, model: str, source: str, cid: str | None = None,
                 warn: Callable[[str], None] = lambda m: None) -> None:
        self.store, self.model, self.source, self.cid, self.warn = store, model, source, cid, warn
        self.paused = store is None
        self._logged = None  # the assistant message logged last: a turn is logged once
        self._system_logged: str | None = None
        if cid is not None and store is not None:
            self._system_logged = store.conversation(cid)["system"]

    @property
    def active(self) -> bool:
        return self.store is not None and not self.paused

    def restart(self, session=None) -> None:
        """The next turn opens a new conversation; what the session holds now counts as logged."""
        self.cid = None
        self.sync(session)

    def sync(self, session) -> None:
        """Take the session's current history as already logged (restored or copied)."""
        self._logged = session.history[-1] if session is not None and session.history else None

    def record(self, session, *, replaces_last: bool = False) -> None:
        """Log the session's last exchange (the last two history messages) unless it is logged already."""
        h = session.history
        if not self.active or len(h) < 2 or h[-2]["role"] != "user" or h[-1] is self._logged:
            return
        user, answer = h[-2], h[-1]
        self._logged = answer
        try:
            self._ensure(session)
            self.store.add_turn(self.cid, user["content"], answer["content"], stats=session.last, seed=session.seed,
                                settings=_settings(session), model=self.model,
                                interrupted=bool(answer.get("interrupted")), replaces_last=replaces_last)
        except ChatcliError as e:
            self.warn(f"{e}; not logging this conversation any more")
            self.paused, self.store = True, None

    def copy_history(self, session) -> None:
        """Start a new logged conversation holding the session's current history (after --load or /load)."""
        self.restart(session)
        if not self.active or not session.history:
            return
        try:
            self._ensure(session)
            for user, answer in _pairs(session.history):
                self.store.add_turn(self.cid, user, answer, model=self.model)
        except ChatcliError as e:
            self.warn(f"{e}; not logging this conversation any more")
            self.paused, self.store = True, None

    def _ensure(self, session) -> None:
        if self.cid is None:
            self.cid = self.store.new_conversation(model=self.model, system=session.system, source=self.source)
            self._system_logged = session.system
        elif session.system != self._system_logged:
            self.store.set_system(self.cid, session.system)
            self._system_logged = session.system


def _settings(session) -> dict:
    d = session.settings.to_dict()
    if session.max_tokens_auto:
        d["max_tokens"] = "auto"
    return d
