"""`chatcli inspect` views: each module computes a JSON-ready dict, then renders it for a terminal.

card (the model card), tokens, next_token (next-token distributions), attention, embeddings,
curve (training curves). Drawing helpers live in chart.py (terminal) and png.py (matplotlib).
"""
