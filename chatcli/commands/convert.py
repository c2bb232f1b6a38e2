"""`chatcli convert`: model directories <-> Hugging Face Llama format (loadable by transformers),
and to GGUF for llama.cpp / ollama (`to-gguf`, written by chatcli.gguf_export)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatcli.errors import ChatcliError, cli_errors

convert_app = typer.Typer(help="Convert between chatcli model directories and Hugging Face Llama format.",
                          no_args_is_help=True)


@convert_app.command("to-hf")
@cli_errors
def to_hf(model: Annotated[Path, typer.Argument(help="chatcli model directory")],
          out: Annotated[Path, typer.Argument(help="output directory (HF Llama layout)")]) -> None:
    """Export a model directory for transformers: weights, config, generation_config (stops at <|end|>),
    tokenizer with its chat template (apply_chat_template renders chatcli's)."""
    from chatcli.bundle import load_bundle
    from chatcli.chat.main import chat_defaults
    from chatcli.hf_export import export_bundle
    b = load_bundle(model)
    d = chat_defaults().to_dict()
    export_bundle(b, out, sampling={k: d[k] for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty")})
    typer.echo(f"wrote {out}", err=True)


@convert_app.command("from-hf")
@cli_errors
def from_hf(hf_dir: Annotated[Path, typer.Argument(help="HF Llama directory (safetensors + tokenizer.model)")],
            out: Annotated[Path, typer.Argument(help="output chatcli model directory")]) -> None:
    """Import a Hugging Face Llama checkpoint that uses a SentencePiece tokenizer.model."""
    from chatcli.bundle import save_bundle
    from model.hf import import_hf
    from tokenizer.sp import Tokenizer
    if not (hf_dir / "tokenizer.model").is_file():
        raise ChatcliError(f"{hf_dir}: no tokenizer.model (only SentencePiece tokenizers are supported)")
    tok = Tokenizer.load(hf_dir / "tokenizer.model")
    model = import_hf(hf_dir)
    save_bundle(out, model, tok, training={"imported_from": str(hf_dir)})
    typer.echo(f"wrote {out}", err=True)


@convert_app.command("to-gguf")
@cli_errors
def to_gguf(model: Annotated[Path, typer.Argument(help="chatcli model directory")],
            out: Annotated[Path, typer.Argument(help="output .gguf file")],
            outtype: Annotated[str, typer.Option(help="f32, or q8_0 (8-bit weights as llama.cpp's Q8_0).")] = "f32") -> None:
    """Write weights and tokenizer as one GGUF file that llama.cpp and ollama run (architecture llama)."""
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise ChatcliError("to-gguf needs the gguf package: pip install gguf (or pip install -e \".[gguf]\")") from None
    from chatcli.bundle import load_bundle
    from chatcli.gguf_export import write_gguf
    if out.is_dir():
        raise ChatcliError(f"{out}: is a directory (give the path of the .gguf file to write)")
    b = load_bundle(model)
    write_gguf(b.model, b.tokenizer, out, outtype=outtype, name=b.path.name)
    typer.echo(f"wrote {out}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(convert_app, name="convert")
