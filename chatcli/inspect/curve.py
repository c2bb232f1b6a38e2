"""`inspect curve`: training and validation loss from RUN_DIR/metrics.jsonl, per stage.

Rows with "train_loss" form the training series; rows with "val_loss" and/or "val_bpb" the
validation series; each needs "step". Other rows are ignored. A line that is not a JSON object,
or a loss row without a numeric step, is an error naming the line (FILE:LINE: ...).
"""
from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table
from rich.text import Text

from chatcli.data.sources import iter_json_lines
from chatcli.errors import ChatcliError
from chatcli.inspect.chart import line_chart
from chatcli.inspect.common import console, finite_or_none

METRICS = "metrics.jsonl"


def metrics_path(run_dir: Path) -> Path:
    path = run_dir if run_dir.is_file() else run_dir / METRICS
    if not run_dir.exists():
        raise ChatcliError(f"{run_dir}: no such run directory")
    if not path.is_file():
        raise ChatcliError(f"{run_dir}: no {METRICS} here (is it a training --out directory?)")
    return path


def _number(row: dict, key: str, where: str) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ChatcliError(f"{where}: {key} must be a number, got {v!r}")
    return float(v)


def load_series(run_dir: Path) -> dict:
    path = metrics_path(run_dir)
    stages: dict[str, dict] = {}
    for where, row in iter_json_lines(path):
        if not isinstance(row, dict):
            raise ChatcliError(f"{where}: expected a JSON object")
        has_train = "train_loss" in row
        has_val = "val_loss" in row or "val_bpb" in row
        if not (has_train or has_val):
            continue
        step = _number(row, "step", where)
        if step is None:
            raise ChatcliError(f"{where}: loss row without a \"step\"")
        s = stages.setdefault(str(row.get("stage", "train")), {
            "train": {"step": [], "loss": []}, "val": {"step": [], "loss": [], "bpb": []}})
        if has_train:
            s["train"]["step"].append(step)
            s["train"]["loss"].append(finite_or_none(_number(row, "train_loss", where)))
        if has_val:
            s["val"]["step"].append(step)
            s["val"]["loss"].append(finite_or_none(_number(row, "val_loss", where)))
            s["val"]["bpb"].append(finite_or_none(_number(row, "val_bpb", where)))
    if not stages:
        raise ChatcliError(f"{path}: no rows with train_loss or val_loss yet")
    return {"path": str(path), "stages": [{"stage": k, **v, "summary": _summary(v)} for k, v in stages.items()]}


def _summary(s: dict) -> dict:
    tl = [x for x in s["train"]["loss"] if x is not None]
    vl = [x for x in s["val"]["loss"] if x is not None]
    vb = [x for x in s["val"]["bpb"] if x is not None]
    steps = s["train"]["step"] + s["val"]["step"]
    return {"last_step": max(steps) if steps else None,
            "train_first": tl[0] if tl else None, "train_last": tl[-1] if tl else None,
            "train_min": min(tl) if tl else None, "val_last": vl[-1] if vl else None,
            "val_best": min(vl) if vl else None, "val_bpb_last": vb[-1] if vb else None}


def _nan(xs: list) -> list[float]:
    return [math.nan if x is None else x for x in xs]


def render_curve(doc: dict) -> None:
    out = console()
    width = max(20, min(72, out.width - 14))
    out.print(f"[bold]Training curves[/bold]  {doc['path']}")
    out.print("[dim]Loss = how surprised the model is by the next token (nats; lower is better). Train loss "
              "falling while val loss rises means memorising instead of learning.[/dim]")
    for s in doc["stages"]:
        legend = Text(f"\n{s['stage']}: ", style="bold")
        legend.append("⠒⠒ train loss", style="cyan")
        if any(v is not None for v in s["val"]["loss"]):
            legend.append("   ")
            legend.append("● val loss", style="magenta")
        out.print(legend)
        val = [(s["val"]["step"], _nan(s["val"]["loss"]), "magenta")]
        for row in line_chart([(s["train"]["step"], _nan(s["train"]["loss"]), "cyan")], val, width=width):
            out.print(row)
        out.print(" " * (width // 2) + "step", style="dim")
        sm = s["summary"]
        t = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("last step", "train first", "train last", "train min", "val last", "val best", "val bpb"):
            t.add_column(col, justify="right")
        t.add_row(*["-" if v is None else f"{v:.4g}" for v in (
            sm["last_step"], sm["train_first"], sm["train_last"], sm["train_min"], sm["val_last"],
            sm["val_best"], sm["val_bpb_last"])])
        out.print(t)
