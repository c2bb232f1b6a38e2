"""The C++ decode step, built in the background for later chats.

`--engine auto` uses the C++ step (model/cpp_ext.py, 5-7x the fast engine's decode speed on the bundled
model) only once it is built, so that a one-shot `chatcli chat "hi"` never waits for a compiler. An
interactive chat on the CPU that fell back to the fast engine for that reason alone starts one detached,
lowest-priority build in a separate process and says so once; the chats after it decode with cpp.
CHATCLI_NO_PREBUILD=1 turns this off (the tests set it).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

NOTICE = ("building the C++ decode step in the background (about a minute, low priority); "
          "chats after that decode several times faster")
BUILD = ("import os\ntry:\n    os.nice(19)\nexcept Exception:\n    pass\n"
         "from model.cpp_ext import load_extension\nload_extension(build=True)\n")


def why_not(engine) -> str | None:
    """None when a background build would help this engine, else the reason it would not."""
    if os.environ.get("CHATCLI_NO_PREBUILD"):
        return "CHATCLI_NO_PREBUILD is set"
    if getattr(engine, "name", None) != "fast":
        return f"the engine is {getattr(engine, 'name', '?')}, not the fast fallback"
    from model import cpp_ext
    reason = cpp_ext.supported(engine)
    if reason:
        return reason
    if cpp_ext.is_built():
        return "already built"
    if cpp_ext._compiler() is None:
        return "no C++ compiler"
    return None


def start(engine, notify: Callable[[str], None]) -> subprocess.Popen | None:
    """Start the background build when it would help (see module docstring); the process, or None."""
    if why_not(engine) is not None:
        return None
    try:
        proc = subprocess.Popen([sys.executable, "-c", BUILD], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None
    notify(NOTICE)
    return proc
