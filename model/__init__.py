"""The network side of chatcli: config, transformer, KV cache, sampling, generation, checkpoints.

This package knows only token ids and tensors. It never imports `tokenizer` or `chatcli`.
"""
from model.config import PRESETS, ModelConfig, preset
from model.transformer import Transformer

__all__ = ["ModelConfig", "PRESETS", "preset", "Transformer"]
