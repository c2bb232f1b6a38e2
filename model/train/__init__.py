"""Training machinery over tensors only: config, schedules, optimizers (AdamW, Muon), losses
(SFT masked cross-entropy, DPO), the step loop with accumulation/clipping/autocast, DDP wiring,
windowed evaluation, and pickle-free training state. Never imports tokenizer or chatcli."""
