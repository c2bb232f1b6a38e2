#!/usr/bin/env python3
"""Write the pretrained (base) model as a lean model directory in bf16, for weights/base.

    python recipes/export_base.py RUN/pretrain OUT_DIR

Only weights (bf16 safetensors), config.json and tokenizer.model: no optimizer state, no metrics,
no token cache. `BASE=weights/base recipes/default.sh` redoes the chat tuning from it.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from chatcli.bundle import load_bundle, save_bundle  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: export_base.py RUN/pretrain OUT_DIR", file=sys.stderr)
        return 2
    b = load_bundle(Path(argv[0]))
    out = save_bundle(Path(argv[1]), b.model, b.tokenizer, training=b.meta.get("training", {}), dtype=torch.bfloat16)
    print(f"export_base: wrote {out} (bf16)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
