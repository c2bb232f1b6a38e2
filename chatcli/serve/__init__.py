"""`chatcli serve`: an OpenAI-compatible HTTP server over one model loaded once and kept warm.

engine.py    the worker thread that owns the model and interleaves active requests token by token
protocol.py  request schemas (pydantic), OpenAI-style errors, response and stream-chunk builders
app.py       the FastAPI routes: /v1/chat/completions, /v1/completions, /v1/models, /health
run.py       binding the socket, loading and warming the model, running uvicorn
"""
