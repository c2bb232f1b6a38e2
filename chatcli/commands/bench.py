"""`chatcli bench`: prefill/decode speed of a model directory or a random-weight shape (llama-bench style)."""
from __future__ import annotations

from typing import Annotated

import typer

from chatcli.errors import ChatcliError, cli_errors


def register(app: typer.Typer) -> None:
    @app.command("bench")
    @cli_errors
    def bench(
        model: Annotated[str | None, typer.Option("--model", "-m", help="Model directory (default: the bundled model).")] = None,
        shape: Annotated[str | None, typer.Option(help="Random weights of a shape: a preset (stories260k, stories15m, stories42m, ...) or dims like d288,L6,H6,V32000[,KV6,F768,S256].")] = None,
        prompt_tokens: Annotated[str, typer.Option(help="Prompt lengths, comma-separated.")] = "128",
        gen_tokens: Annotated[str, typer.Option(help="Generated tokens, comma-separated.")] = "128",
        batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1",
        repetitions: Annotated[int, typer.Option("--repetitions", "-r", help="Timed runs per configuration (after a warm-up).")] = 5,
        compile: Annotated[bool, typer.Option("--compile", help="Same as --engine compiled: the whole decode step as one torch.compile graph (CUDA graphs on a GPU).")] = False,
        quantize: Annotated[str | None, typer.Option(help="Weight-only quantization: int8.")] = None,
        dtype: Annotated[str, typer.Option(help="auto (bf16 on CUDA, fp32 elsewhere), fp32, bf16, fp16.")] = "auto",
        device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N, mps.")] = "auto",
        threads: Annotated[int, typer.Option(help="CPU threads (0: torch's default).")] = 0,
        engine: Annotated[str, typer.Option(help="auto (compiled on CUDA; on CPU cpp if already built, else fast), compiled (whole-step torch.compile), cpp (the batch-1 fp32 CPU step in C++, compiled once on first use: about a minute), fast (fused eager path) or reference (the plain Transformer).")] = "auto",
        json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list, one object per configuration.")] = False,
    ) -> None:
        """Measure prefill (pp) and decode (tg) tokens/s and time to first token.

        Examples:

          chatcli bench --shape stories15m --prompt-tokens 128 --gen-tokens 128

          chatcli bench --shape d512,L8,H8,V32000 --quantize int8 --batch 1,4 --json

          chatcli bench --engine cpp   (also builds the C++ decode step that --engine auto and chat then use)
        """
        import torch

        from chatcli.bench import BenchSpec, load_for_bench, parse_ints, run_bench
        from chatcli.device import resolve_device, resolve_dtype
        from chatcli.render import err_console, out_console

        if repetitions < 1:
            raise ChatcliError(f"--repetitions must be >= 1, got {repetitions}")
        if threads < 0:
            raise ChatcliError(f"--threads must be >= 0, got {threads}")
        spec = BenchSpec(parse_ints(prompt_tokens, "--prompt-tokens"), parse_ints(gen_tokens, "--gen-tokens"),
                         parse_ints(batch, "--batch"), repetitions, compile, engine)
        from chatcli.bench import ENGINES
        if engine not in ENGINES:
            raise ChatcliError(f"unknown --engine {engine!r} (use {', '.join(ENGINES)})")
        if compile and engine not in ("auto", "compiled"):
            raise ChatcliError(f"--compile contradicts --engine {engine}")
        if threads:
            torch.set_num_threads(threads)
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        err = err_console()
        net, label = load_for_bench(model, shape, device=dev, dtype=dt, quantize=quantize)
        from chatcli.bench import header
        head = header(net, label, dev, dt, quantize, compile)
        err.print(f"[bold]chatcli bench[/bold]  model {head['model']}  ({head['shape']}, {head['params']:,} params)")
        err.print(f"device {head['device']}  dtype {head['dtype']}  quantize {head['quantize']}  "
                  f"threads {head['threads']}  torch {head['torch']}")
        head, rows = run_bench(net, label, spec, device=dev, dtype=dt, quantize=quantize,
                               progress=lambda m: err.print(f"[dim]{m}[/dim]"),
                               notify=lambda m: err.print(f"chatcli: notice: {m}", markup=False))
        asked = "compiled" if compile else engine
        err.print(f"engine {head['engine']}" + (f" (asked for {asked})" if asked != head["engine"] else ""))
        if json_out:
            import json
            typer.echo(json.dumps(rows, indent=1))
            return
        from rich.table import Table
        table = Table(box=None if not out_console().is_terminal else None)
        for col in ("batch", "test", "t/s", "ttft ms"):
            table.add_column(col, justify="right")
        for r in rows:
            table.add_row(str(r["batch"]), f"pp{r['prompt_tokens']}",
                          f"{r['pp_tok_s']:,.1f} ± {r['pp_tok_s_sd']:,.1f}",
                          f"{1e3 * r['ttft_s']:,.1f} ± {1e3 * r['ttft_s_sd']:,.1f}")
            table.add_row(str(r["batch"]), f"tg{r['gen_tokens']}", f"{r['tg_tok_s']:,.1f} ± {r['tg_tok_s_sd']:,.1f}", "")
        out_console().print(table)
