"""Task families that need the data root: word meanings (WordNet), English -> Chinese (CC-CEDICT),
and the next line of a poem from 唐诗三百首 (zh/poetry.txt).

`load_resources(data_root)` reads the corpora once and picks the entries:
- common words: the most frequent lower-case words of brown.txt (not function words);
- meaning: words that head exactly one WordNet synset (unambiguous) and are not plain inflections of
  another common word; the answer is that gloss's first clause (before ';');
- translate: CC-CEDICT entries with a sense exactly the word (or "to WORD"); the canonical answer is
  the candidate most frequent (per listed sense) in modern Chinese text (fortunes_zh, chatterbot);
  every candidate is accepted;
- poem_next: consecutive half-lines (split at ，。？！；) of the 唐诗三百首 poems; a half-line that occurs
  with two different successors is skipped.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.data.sources import iter_json_lines
from recipes.tasks.items import make_item, rng_for, split_of

STOPWORDS = set("""
the and that was for with his had not are from this have which were one but you her they she him all
been has when who would there their will more out into can said its what than them only some could
these other may then any about also now such our over very after even most made many before must
through back much where your way well down should because each just those how too own here both being
under never same another while might since against again however every does yet whose upon shall
once though although thus whether either neither nor unless until whom himself herself itself
themselves ourselves yourself myself did doing having its lest onto per via among within without
""".split())


@dataclass
class Resources:
    """What the corpus-backed families need, chosen once from a data root."""
    meaning: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # word -> (gloss, other glosses)
    translate: dict[str, tuple[str, list[str], str]] = field(default_factory=dict)  # word -> (zh, others, pinyin)
    poem_pairs: list[tuple[str, str, str, str, int]] = field(default_factory=list)  # (line, next, title, author, i)
    poems: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (title, author, half-lines)
    tang300_docs: list[str] = field(default_factory=list)


def read_docs(path: Path) -> list[str]:
    text = Path(path).read_text(encoding="utf-8")
    return [d for d in text.split("\n\n") if d.strip()]


def brown_frequencies(data_root: Path) -> Counter:
    text = (Path(data_root) / "en" / "brown.txt").read_text(encoding="utf-8")
    return Counter(w for w in re.findall(r"[A-Za-z]+", text) if w.islower())


def common_words(freq: Counter, n: int) -> list[str]:
    return [w for w, _ in freq.most_common() if len(w) >= 3 and w not in STOPWORDS][:n]


def first_clause(gloss: str) -> str:
    return gloss.split(";")[0].strip()


def is_inflection(word: str, vocab: set[str]) -> bool:
    """Plural/past/-ing forms of another word in vocab ('eyes', 'moved', 'making'): their WordNet
    entries are the odd special senses, so they make poor meaning questions."""
    stems = []
    if word.endswith("s"):
        stems += [word[:-1], word[:-2] if word.endswith("es") else ""]
    if word.endswith("ed"):
        stems += [word[:-2], word[:-1], word[:-3] if len(word) > 4 and word[-3] == word[-4] else ""]
    if word.endswith("ing"):
        stems += [word[:-3], word[:-3] + "e", word[:-4] if len(word) > 5 and word[-4] == word[-5] else ""]
    return any(s and s in vocab for s in stems)


def pick_meanings(wordnet_path: Path, words: list[str], limit: int) -> dict[str, tuple[str, list[str]]]:
    """Words that head exactly one WordNet synset (so the meaning is unambiguous), in frequency order."""
    vocab = set(words)
    found: dict[str, list[str]] = {}
    for _, s in iter_json_lines(wordnet_path):
        head = s["words"][0]
        if head in vocab:
            found.setdefault(head, []).append(first_clause(s["gloss"]))
    out = {}
    for w in words:
        glosses = found.get(w, [])
        if len(glosses) == 1 and 3 <= len(glosses[0]) <= 90 and not is_inflection(w, vocab):
            out[w] = (glosses[0], [])
            if len(out) >= limit:
                break
    return out


def zh_frequencies(data_root: Path) -> Counter:
    """Counts of CJK substrings of length 1-3 in modern Chinese text (fortunes_zh, chatterbot zh)."""
    texts = [(Path(data_root) / "zh" / "fortunes_zh.txt").read_text(encoding="utf-8")]
    chat = Path(data_root) / "chat" / "chatterbot.jsonl"
    if chat.exists():
        for _, rec in iter_json_lines(chat):
            if rec.get("lang") == "zh":
                texts += [m["content"] for m in rec["messages"]]
    freq: Counter = Counter()
    for t in texts:
        for run in re.findall(r"[\u4e00-\u9fff]+", t):
            for k in (1, 2, 3):
                freq.update(run[i:i + k] for i in range(len(run) - k + 1))
    return freq


def pick_translations(cedict_path: Path, words: list[str], zh_freq: Counter, limit: int,
                      min_count: int = 3) -> dict[str, tuple[str, list[str], str]]:
    wanted = set(words)
    cands: dict[str, list[tuple[int, int, str, str]]] = {}
    for _, e in iter_json_lines(cedict_path):
        zh = e["simplified"]
        if not re.fullmatch(r"[\u4e00-\u9fff]{1,3}", zh):
            continue
        for rank, sense in enumerate(e["english"]):
            w = sense[3:] if sense.startswith("to ") else sense
            if w in wanted:
                # frequency per sense: a common character with many senses ('所') loses to a word
                # that means only this ('实际上')
                cands.setdefault(w, []).append((rank, -zh_freq.get(zh, 0) / len(e["english"]), zh, e["pinyin"]))
                break
    out = {}
    for w in words:
        if w not in cands or len(out) >= limit:
            continue
        firsts = [c for c in cands[w] if c[0] == 0] or cands[w]
        best = min(firsts, key=lambda c: (c[1], len(c[2]), c[2]))
        if zh_freq.get(best[2], 0) < min_count:
            continue
        others = sorted({c[2] for c in cands[w]} - {best[2]})
        out[w] = (best[2], others, best[3])
    return out


HALF_LINE = re.compile(r"[^，。？！；：、,.?!;:]+")


def tang300(poetry_docs: list[str]) -> list[str]:
    """The 唐诗三百首 documents: after the last 论语 chapter, up to the first 全唐诗 poem (太宗皇帝)."""
    lunyu = [i for i, d in enumerate(poetry_docs) if d.split("\n")[1:2] == ["孔子弟子及再传弟子"]]
    start = lunyu[-1] + 1 if lunyu else 0
    end = start
    while end < len(poetry_docs) and poetry_docs[end].split("\n")[1:2] != ["太宗皇帝"]:
        end += 1
    return poetry_docs[start:end]


def poem_pairs(docs: list[str]) -> tuple[list, list]:
    poems, pairs, successors = [], [], {}
    for d in docs:
        lines = d.split("\n")
        if len(lines) < 3:
            continue
        title, author = lines[0], lines[1]
        halves = [h.strip() for ln in lines[2:] for h in HALF_LINE.findall(ln) if h.strip()]
        poems.append((title, author, halves))
        for i in range(len(halves) - 1):
            successors.setdefault(halves[i], set()).add(halves[i + 1])
            pairs.append((halves[i], halves[i + 1], title, author, i))
    unique = [p for p in pairs if len(successors[p[0]]) == 1 and 2 <= len(p[0]) <= 12 and 2 <= len(p[1]) <= 12]
    seen, out = set(), []
    for p in unique:
        if p[0] not in seen:
            seen.add(p[0])
            out.append(p)
    return poems, out


def load_resources(data_root: str | Path, n_words: int = 1500) -> Resources:
    root = Path(data_root)
    freq = brown_frequencies(root)
    words = common_words(freq, n_words * 8)
    res = Resources()
    res.meaning = pick_meanings(root / "en" / "wordnet.jsonl", words, n_words)
    words = words[:n_words * 3]
    res.translate = pick_translations(root / "zh" / "cedict.jsonl", words, zh_frequencies(root), n_words)
    res.tang300_docs = tang300(read_docs(root / "zh" / "poetry.txt"))
    res.poems, res.poem_pairs = poem_pairs(res.tang300_docs)
    return res


# ---------------------------------------------------------------- items

MEANING_TEMPLATES = ["What does '{w}' mean?", "Define the word \"{w}\".", "What is the meaning of the word {w}?",
                     "Give a short definition of '{w}'.", "What does the word {w} mean?", "Define: {w}",
                     "Explain the meaning of \"{w}\".", "“{w}”这个英文单词是什么意思？"]
TRANSLATE_TEMPLATES = ["How do you say '{w}' in Chinese?", "Translate '{w}' into Chinese.",
                       "What is the Chinese word for \"{w}\"?", "Translate to Chinese: {w}",
                       "What is '{w}' in Chinese?", "Give the Chinese for the English word {w}.",
                       "“{w}”用中文怎么说？", "英文单词 {w} 的中文是什么？"]
POEM_TEMPLATES = ["What is the next line after \"{l}\"?", "Continue the poem: {l}",
                  "In the poem {t} by {a}, what line comes after \"{l}\"?", "Which line follows \"{l}\" in {t}?",
                  "Complete the verse: {l}, ...", "“{l}”的下一句是什么？", "{l}，下一句是？", "接下一句：{l}",
                  "《{t}》（{a}）中“{l}”的下一句是什么？"]


def _expand(family: str, keys: list[str], split: str, n: int, seed: int, make) -> list[dict]:
    pool = [k for k in keys if split_of(family, k) == split]
    rng = rng_for(seed, family, split)
    items = []
    for i in range(min(n, len(pool)) if split == "test" else n):
        if not pool:
            break
        k = pool[i % len(pool)] if i < len(pool) else rng.choice(pool)
        items.append(make(k, rng))
    return items


def make_meaning(res: Resources, split: str, n: int, seed: int = 0) -> list[dict]:
    def one(w, rng):
        gloss, others = res.meaning[w]
        return make_item("meaning", w, rng.choice(MEANING_TEMPLATES).format(w=w), gloss, accept=others)
    return _expand("meaning", sorted(res.meaning), split, n, seed, one)


def make_translate(res: Resources, split: str, n: int, seed: int = 0) -> list[dict]:
    def one(w, rng):
        zh, others, _ = res.translate[w]
        return make_item("translate", w, rng.choice(TRANSLATE_TEMPLATES).format(w=w), zh, accept=others)
    return _expand("translate", sorted(res.translate), split, n, seed, one)


def make_poem_next(res: Resources, split: str, n: int, seed: int = 0) -> list[dict]:
    by_line = {p[0]: p for p in res.poem_pairs}

    def one(line, rng):
        _, nxt, title, author, _ = by_line[line]
        q = rng.choice(POEM_TEMPLATES).format(l=line, t=title, a=author)
        return make_item("poem_next", line, q, nxt, title=title)
    return _expand("poem_next", sorted(by_line), split, n, seed, one)


def wrong_meaning(item: dict, rng: random.Random, res: Resources) -> str:
    while True:
        w = rng.choice(sorted(res.meaning))
        if res.meaning[w][0] != item["answer"]:
            return res.meaning[w][0]


def wrong_translate(item: dict, rng: random.Random, res: Resources) -> str:
    bad = {item["answer"], *item.get("accept", [])}
    while True:
        w = rng.choice(sorted(res.translate))
        if res.translate[w][0] not in bad:
            return res.translate[w][0]


def wrong_poem(item: dict, rng: random.Random, res: Resources) -> str:
    """A different line of the same poem."""
    for title, _author, halves in res.poems:
        if title == item.get("title") and item["key"] in halves:
            others = [h for h in halves if h not in (item["answer"], item["key"])]
            if others:
                return rng.choice(others)
    return rng.choice([p[1] for p in res.poem_pairs if p[1] != item["answer"]])
