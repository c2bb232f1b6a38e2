"""Training stages as plain functions joining data, tokenizer and model: tokenizer, pretrain, sft,
dpo, and file evaluation (bits per byte). The Typer commands in chatcli/commands call these."""
