"""Training corpora: source specs and readers (text, chat, preference, Hugging Face), mixing by
weight, the deterministic train/val split by document, and memory-mapped token shards."""
