"""Start-up cost: loading a model directory and answering one-shot never import torch._dynamo,
and the loaded weights are exactly the file's (the skeleton's skipped init leaves nothing behind)."""
from __future__ import annotations

import subprocess
import sys

import torch


def test_one_shot_answer_does_not_import_dynamo(model_dir):
    code = ("import sys\n"
            "from chatcli.app import app\n"
            f"sys.argv = ['chatcli', 'chat', '--model', {str(model_dir)!r}, 'hi', '--max-tokens', '1', '--seed', '1']\n"
            "try:\n"
            "    app()\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('DYNAMO' if 'torch._dynamo' in sys.modules else 'NO-DYNAMO', file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip().endswith("NO-DYNAMO"), p.stderr


def test_loaded_weights_equal_the_file_and_init_is_restored(model_dir):
    from model.checkpoint import WEIGHTS, load_model, load_weights
    before = torch.nn.init.normal_
    model, _ = load_model(model_dir)
    assert torch.nn.init.normal_ is before  # the no-op fillers were put back
    sd = load_weights(model_dir / WEIGHTS)
    state = model.state_dict()
    for name, t in sd.items():
        assert torch.equal(state[name], t), name
    assert model.output.weight is model.tok_embeddings.weight or "output.weight" in sd
    # rotary tables were computed, not left uninitialised
    from model.transformer import rope_tables
    cos, sin = rope_tables(model.config, model.config.max_seq_len)
    assert torch.equal(model.rope_cos, cos) and torch.equal(model.rope_sin, sin)
    # a fresh model still gets random init after a load
    from model.transformer import Transformer
    torch.manual_seed(0)
    fresh = Transformer(model.config)
    assert fresh.tok_embeddings.weight.std().item() > 0.01
