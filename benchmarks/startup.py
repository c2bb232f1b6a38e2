"""Start-up: time to the first answer byte of `chatcli chat "hi"` against `python -c "import torch"`.

    python benchmarks/startup.py --reps 7

Both run as fresh processes, interleaved (one of each in turn, so background load hits both
alike). For chatcli the clock stops when the first byte of the answer reaches stdout (a one-token
greedy answer, so that is the time to first token); for torch when the process exits. Reported:
medians and the ratio (issue 13's target: <= 1.5x).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def first_byte_s(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    first = p.stdout.read(1)
    t = time.perf_counter() - t0
    p.stdout.read()
    p.wait()
    assert p.returncode == 0 and first, f"{cmd} failed"
    return t


def exit_s(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--prompt", default="hi")
    args = ap.parse_args()
    chatcli = shutil.which("chatcli") or os.path.join(os.path.dirname(sys.executable), "chatcli")
    chat = [chatcli, "chat", args.prompt, "--max-tokens", "1", "--temperature", "0"]
    torch_ = [sys.executable, "-c", "import torch"]
    exit_s(torch_), first_byte_s(chat)  # warm the page cache
    t_torch, t_chat = [], []
    for _ in range(args.reps):
        t_torch.append(exit_s(torch_))
        t_chat.append(first_byte_s(chat))
    a, b = statistics.median(t_torch), statistics.median(t_chat)
    print(f"python -c 'import torch'   median {a:.3f} s  (runs: {', '.join(f'{x:.2f}' for x in t_torch)})")
    print(f"chatcli chat first token  median {b:.3f} s  (runs: {', '.join(f'{x:.2f}' for x in t_chat)})")
    print(f"ratio {b / a:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
