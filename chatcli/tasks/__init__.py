"""Synthetic task families with verifiable answers: data for SFT/DPO/pretraining, held-out test
slices, and exact-match evaluation of a model bundle.

Families (see build.FAMILIES): arithmetic, count_letter, reverse, chatcli (need no corpus) and
meaning, translate, poem_next (need the data root: WordNet, CC-CEDICT, 唐诗三百首).
"""
from __future__ import annotations

from chatcli.tasks.build import (CORPUS_FREE, FAMILIES, TESTSETS_DIR, dpo_records, load_test_items, make_items,
                                 pretrain_task_docs, sft_records, test_items)
from chatcli.tasks.common import normalise, score, split_of
from chatcli.tasks.evaluate import evaluate_tasks

__all__ = ["FAMILIES", "CORPUS_FREE", "TESTSETS_DIR", "evaluate_tasks", "load_test_items", "make_items",
           "sft_records", "dpo_records", "pretrain_task_docs", "test_items", "normalise", "score", "split_of"]
