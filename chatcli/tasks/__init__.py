"""What a user runs of the task families: exact-match evaluation on the shipped held-out slices
(`chatcli eval --tasks`), the answer normalisers and the scorer (also `chatcli train pairs`).

Families (FAMILIES): arithmetic, count_letter, reverse, chatcli, meaning, translate, poem_next. The
generators that build the training data and the slices live in recipes/tasks (not installed).
"""
from __future__ import annotations

from chatcli.tasks.evaluate import FAMILIES, TESTSETS_DIR, evaluate_tasks, load_test_items
from chatcli.tasks.scoring import normalise, score

__all__ = ["FAMILIES", "TESTSETS_DIR", "evaluate_tasks", "load_test_items", "normalise", "score"]
