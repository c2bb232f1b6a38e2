"""What the bundled model is taught to know: the scoped world of recipe v4, chosen once from a data root.

- words: the ~2,000 most common lower-case words of the Brown corpus that WordNet defines, each with
  one short gloss (the first clause of the first synset the word heads; nouns first, as WordNet files
  them) and, where CC-CEDICT has one, its most common Chinese rendering;
- poems: a few dozen famous short Tang poems from 唐诗三百首 (four to eight lines), whole, line by line.
These are facts to memorise: they are trained, and the evaluation asks about the same words and poems
in phrasings that never occur in training (benchmarks/chat_eval.jsonl).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.data.sources import iter_json_lines
from recipes.tasks import lexical

# well-known 唐诗三百首 titles first (the ones a reader is likely to ask for), then other short poems
FAMOUS = ("静夜思", "春晓", "登鹳雀楼", "相思", "鹿柴", "江雪", "悯农", "寻隐者不遇", "登乐游原", "八阵图",
          "送别", "杂诗", "竹里馆", "黄鹤楼送孟浩然之广陵", "早发白帝城", "枫桥夜泊", "凉州词", "出塞",
          "芙蓉楼送辛渐", "回乡偶书", "九月九日忆山东兄弟", "清明", "泊秦淮", "赤壁", "乌衣巷", "夜雨寄北",
          "江南逢李龟年", "登幽州台歌", "宿建德江", "听弹琴", "问刘十九", "渭城曲", "终南望馀雪", "春怨",
          "秋夕", "月夜", "春宫怨", "金缕衣", "寄扬州韩绰判官", "逢入京使", "嫦娥", "乐游原", "闺怨",
          "夜上受降城闻笛", "题金陵渡", "行宫", "哥舒歌", "新嫁娘", "玉阶怨", "长干行")
LINE_SPLIT = re.compile(r"(?<=[，。？！；])")


@dataclass
class Poem:
    title: str
    author: str
    lines: list[str]  # half-lines without punctuation: "床前明月光", "疑是地上霜", ...
    text: str  # the poem as printed, one couplet a line


@dataclass
class Scope:
    words: list[str] = field(default_factory=list)  # in frequency order
    gloss: dict[str, str] = field(default_factory=dict)
    zh: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # word -> (Chinese, other accepted)
    poems: list[Poem] = field(default_factory=list)

    def summary(self) -> dict:
        return {"words": len(self.words), "glosses": len(self.gloss), "chinese": len(self.zh),
                "poems": len(self.poems), "poem_lines": sum(len(p.lines) for p in self.poems)}


BLOCK = re.compile(r"\b(sex|sexual|slang|vulgar|obscene|offensive|penis|vagina|genitals|buttocks|copulate)\b")


def gloss_score(word: str, index: int, synset: dict, freq: Counter) -> float:
    """How likely a synset is the word's everyday sense (WordNet's files carry no sense ranks): everyday
    senses are glossed in common words, are headed by the word, come with examples using it, and are
    shared by several synonyms; a gloss that repeats the word ('cause to work') explains nothing."""
    g = lexical.first_clause(synset["gloss"])
    toks = re.findall(r"[a-z]+", g.lower())
    if not toks or word in toks or BLOCK.search(g.lower()) or not 3 <= len(g) <= 80 or "(" in g or "`" in g:
        return float("-inf")
    common = sum(math.log(freq.get(t, 0) + 1) for t in toks) / len(toks)
    example = any(word in e for e in synset.get("examples", []))
    return common + (index == 0) + 0.5 * example - 0.03 * len(toks) + 0.3 * len(synset["words"]) ** 0.5


def first_glosses(wordnet_path: Path, wanted: set[str], freq: Counter) -> dict[str, str]:
    """word -> the first clause of the gloss of its most everyday-looking synset (gloss_score)."""
    best: dict[str, tuple[float, str]] = {}
    for _, s in iter_json_lines(wordnet_path):
        for i, w in enumerate(s["words"]):
            if w in wanted:
                score = gloss_score(w, i, s, freq)
                if score > best.get(w, (float("-inf"), ""))[0]:
                    best[w] = (score, lexical.first_clause(s["gloss"]).strip().rstrip("."))
    return {w: g for w, (sc, g) in best.items() if sc > float("-inf")}


def common_defined_words(data_root: Path, n: int) -> tuple[list[str], dict[str, str]]:
    freq: Counter = lexical.brown_frequencies(data_root)
    cands = [w for w, c in freq.most_common(20000) if len(w) >= 3 and w.isalpha() and w not in lexical.STOPWORDS]
    glosses = first_glosses(Path(data_root) / "en" / "wordnet.jsonl", set(cands), freq)
    vocab = set(cands)
    words = [w for w in cands if w in glosses and not lexical.is_inflection(w, vocab)][:n]
    return words, {w: glosses[w] for w in words}


def pick_poems(tang300_docs: list[str], n: int) -> list[Poem]:
    poems: dict[str, Poem] = {}
    for d in tang300_docs:
        rows = d.split("\n")
        if len(rows) < 3:
            continue
        title, author, body = rows[0], rows[1], rows[2:]
        halves = [h.strip() for ln in body for h in lexical.HALF_LINE.findall(ln) if h.strip()]
        if not 4 <= len(halves) <= 8 or any(len(h) > 9 for h in halves) or len(set(halves)) != len(halves):
            continue
        poems.setdefault(title, Poem(title, author, halves, "\n".join(body)))
    chosen = [poems[t] for t in FAMOUS if t in poems]
    rest = sorted((p for t, p in poems.items() if t not in FAMOUS), key=lambda p: (len(p.lines), p.title))
    out, seen_lines = [], set()
    for p in chosen + rest:
        if len(out) >= n or seen_lines & set(p.lines):
            continue  # a line shared by two poems would have two successors
        seen_lines |= set(p.lines)
        out.append(p)
    return out


def load_scope(data_root: str | Path, n_words: int = 2000, n_poems: int = 40) -> Scope:
    root = Path(data_root)
    words, gloss = common_defined_words(root, n_words)
    trans = lexical.pick_translations(root / "zh" / "cedict.jsonl", words, lexical.zh_frequencies(root), len(words))
    zh = {w: (t[0], list(t[1])) for w, t in trans.items()}
    poems = pick_poems(lexical.tang300(lexical.read_docs(root / "zh" / "poetry.txt")), n_poems)
    return Scope(words, gloss, zh, poems)
