"""chatcli: a command-line chat assistant over a transformer you train yourself.

This package is the only place that joins `model/` (tensors) and `tokenizer/` (text).
"""
__version__ = "0.1.0"
