"""The one copy of every per-token figure: next-token cross-entropy (mean, masked: the training
loss of all three stages), per-token NLL (what evaluation and bits-per-byte sum), per-token and
per-sequence log-probs, and DPO. model/train/evaluate.py sums token_nll into loss and bpb."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def lm_loss(model, ids: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy over positions where mask is 1 (all when None); ids, targets, mask (B, T).

    Calls model(ids) (not model.loss) so a DistributedDataParallel wrapper sees the forward pass.
    """
    logits = model(ids).float()  # (B, T, V)
    if mask is not None:
        targets = targets.masked_fill(mask == 0, -1)
    return F.cross_entropy(logits.flatten(0, 1), targets.reshape(-1), ignore_index=-1)


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log p(target) at every position, in fp32: (B, T) from logits (B, T, V) and targets (B, T)."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)


def token_logprobs(model, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(targets[t] | ids[:t+1]) for every position, (B, T); negative targets read as id 0."""
    logp = torch.log_softmax(model(ids).float(), dim=-1)  # (B, T, V)
    return logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T)


def sequence_logprobs(model, ids: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over masked positions of log p(target | prefix): (B,) from ids, targets, mask (B, T)."""
    return (token_logprobs(model, ids, targets) * mask).sum(-1)  # (B,)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO (Rafailov et al. 2023) on summed response log-probs, each (B,).

    loss = -mean log sigmoid(beta * ((pc - rc) - (pr - rr))); returns (loss, accuracy, reward margin)
    where reward = beta * (policy - reference) log-prob, accuracy = mean(reward_chosen > reward_rejected).
    """
    chosen_reward = beta * (policy_chosen - ref_chosen)  # (B,)
    rejected_reward = beta * (policy_rejected - ref_rejected)  # (B,)
    margin = chosen_reward - rejected_reward  # (B,)
    loss = -F.logsigmoid(margin).mean()
    acc = (margin > 0).float().mean()
    return loss, acc.detach(), margin.detach().mean()
