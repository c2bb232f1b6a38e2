"""What a training run shows and leaves behind: progress on stderr (rich on a TTY, plain lines
otherwise), metrics.jsonl rows, and a loss-curve PNG when matplotlib is importable."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from chatcli.data.sources import read_jsonl
from model.checkpoint import atomic_output, atomic_write_text

METRICS = "metrics.jsonl"


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Reporter:
    """Progress + metrics log for one stage; only the master rank writes anything."""

    def __init__(self, out: Path, stage: str, max_steps: int, *, enabled: bool = True, start_step: int = 0,
                 time_budget: float = 0.0) -> None:
        self.out, self.stage, self.max_steps, self.enabled = Path(out), stage, max_steps, enabled
        self.time_budget = time_budget  # > 0: the run ends by the clock, so the ETA does too
        self.start_step = start_step
        self.t0 = time.perf_counter()
        self.progress = None
        self.task = None
        self._file = None
        if not enabled:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        self._file = open(self.out / METRICS, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            from chatcli.render import err_console
            self.progress = Progress(TextColumn(f"[bold]{stage}[/bold]"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[info]}"),
                                     TimeRemainingColumn(), console=err_console(), transient=False)
            self.progress.start()
            self.task = self.progress.add_task(stage, total=max_steps, completed=start_step, info="")

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.console.print(f"[dim]{text}[/dim]")
        else:
            print(f"{self.stage}: {text}", file=sys.stderr, flush=True)

    def write(self, row: dict) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps({"stage": self.stage, **row}) + "\n")
        self._file.flush()

    def log(self, row: dict) -> None:
        if not self.enabled:
            return
        self.write(row)
        step = row["step"]
        done = step - self.start_step
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(1, done) * (self.max_steps - step)
        if self.time_budget > 0:
            eta = min(eta, max(0.0, self.time_budget - row.get("time_s", elapsed)))
        extra = "".join(f" {k} {row[k]:.3f}" for k in ("acc", "margin", "nll") if k in row)
        info = f"loss {row['train_loss']:.4f} lr {row['lr']:.2e} {row['tok_s']:,.0f} tok/s{extra}"
        if self.progress is not None:
            self.progress.update(self.task, completed=step, info=info)
        else:
            print(f"{self.stage} step {step}/{self.max_steps} {info} eta {_fmt_eta(eta)}", file=sys.stderr, flush=True)

    def log_eval(self, row: dict) -> None:
        if not self.enabled:
            return
        self.write(row)
        text = " ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "step" and isinstance(v, float))
        self.message(f"eval step {row['step']}: {text}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self._file is not None:
            self._file.close()
            self._file = None


def truncate_metrics(out: Path, stage: str, after_step: int) -> None:
    """On resume: drop this stage's rows past the checkpoint step (they will be produced again)."""
    path = Path(out) / METRICS
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a crash
        if row.get("stage") == stage and row.get("step", 0) > after_step:
            continue
        keep.append(json.dumps(row))
    atomic_write_text(path, "\n".join(keep) + "\n" if keep else "")


def plot_losses(out: Path) -> Path | None:
    """loss.png from metrics.jsonl (train and val loss against step); None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # matplotlib is optional; any import failure means "no plot"
        return None
    path = Path(out) / METRICS
    if not path.is_file():
        return None
    rows = read_jsonl(path)
    fig, ax = plt.subplots(figsize=(7, 4))
    for stage in dict.fromkeys(r.get("stage") for r in rows):
        tr = [(r["step"], r["train_loss"]) for r in rows if r.get("stage") == stage and "train_loss" in r]
        va = [(r["step"], r["val_loss"]) for r in rows if r.get("stage") == stage and "val_loss" in r]
        if tr:
            ax.plot(*zip(*tr), label=f"{stage} train")
        if va:
            ax.plot(*zip(*va), marker="o", label=f"{stage} val")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = Path(out) / "loss.png"
    with atomic_output(png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return png
