"""`chatcli chat` internals: conversation state, context fitting, one-shot runner, REPL and slash commands.

The Typer command (chatcli/commands/chat.py) only parses options and calls `chatcli.chat.main.run`.
Generation lives in `session.ChatSession` so the REPL, the one-shot runner and tests share it.
"""
