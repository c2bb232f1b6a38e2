"""The chat rows of recipe v4: one generator per in-scope family, each with many question forms.

Every generator takes a `random.Random` and returns (question, reply, item) where item carries the
family and the expected answer (for on-policy preference pairs and the task slices). Replies are short
and end there: the chat template adds `<|end|>`, which is trained, so the model stops.
Computation is shown as worked solutions (chatcli/tasks/working.py style, compact):
a 3M-parameter model cannot add 347 + 285 in one forward pass, but it can take one digit per step.
The wordings here are the TRAINING wordings; benchmarks/chat_eval.jsonl asks in its own words.
"""
from __future__ import annotations

import random

from chatcli.tasks.working import add_columns, sub_columns
from recipes.tasks.scope import Scope

FINAL = "So the answer is {}."
CAN_DO = ("I can add and subtract numbers up to 999, count the letters in a word, spell a word or write it "
          "backwards, tell you what a common English word means or how to say it in Chinese, and recite "
          "some famous Tang poems.")
SMALL = "I am a small model, so I often make mistakes."

# ---------------------------------------------------------------- surface variation


def vary(q: str, rng: random.Random) -> str:
    """Casing, punctuation and politeness noise, so that no one surface form is the only one seen."""
    r = rng.random()
    if r < 0.15:
        q = q.lower()
    elif r < 0.2:
        q = q.upper() if len(q) < 40 else q
    if rng.random() < 0.2:
        q = q.rstrip("?.!？。")
    if rng.random() < 0.1:
        q = rng.choice(("please ", "Please, ", "hey, ", "Hi! ", "ok ", "Quick question: ", "so ")) + q[:1].lower() + q[1:]
    if rng.random() < 0.06:
        q += rng.choice((" thanks", " please", " :)", "??", " thank you"))
    return q


# ---------------------------------------------------------------- identity and small talk

GREETINGS = ["Hi", "Hello", "Hey", "Hi there", "Hello there", "Hey there", "Good morning", "Good evening",
             "Good afternoon", "Howdy", "Greetings", "Yo", "Hiya", "你好", "您好", "嗨", "Hello!", "Hi!",
             "Good day", "Morning", "Evening", "hey hey", "Hello hello", "Hey chatcli", "Hello chatcli", "早上好", "晚上好"]
GREET_REPLIES = ["Hello! I'm chatcli, a small chat model. " + CAN_DO + " What would you like to try?",
                 "Hi! I'm chatcli. " + CAN_DO,
                 "Hello! What can I do for you? " + CAN_DO]
IDENTITY = [
    (["Who are you?", "What are you?", "What is your name?", "Tell me about yourself.", "Introduce yourself.",
      "Who am I talking to?", "What should I call you?", "Are you a person?", "Are you human?", "Are you ChatGPT?",
      "你是谁？", "你叫什么名字？",
      "who r u", "whats your name", "Who is this?", "Who are you exactly?", "Can you introduce yourself?",
      "Tell me who you are.", "Are you a bot?", "Are you an AI?", "Am I talking to a machine?", "Your name?",
      "请介绍一下你自己。", "你是什么？", "请问你叫什么？", "你是机器人吗？", "您是谁？"],
     ["I'm chatcli, a small chat model (about 3.5 million parameters) that runs in your terminal. " + CAN_DO,
      "I am chatcli, a small language model, not a person. I was trained from scratch on a CPU. " + CAN_DO]),
    (["What can you do?", "What are you good at?", "How can you help me?", "What do you know?", "What can I ask you?",
      "What are your skills?", "Help", "What can you do for me?", "你能做什么？",
      "What can you help me with?", "What kind of questions can you answer?", "Can you do math?", "Can you do sums?",
      "Can you add numbers?", "Can you spell?", "What are you for?", "What do you do?", "Show me what you can do.",
      "你会什么？", "你可以帮我做什么？"],
     [CAN_DO + " " + SMALL, CAN_DO]),
    (["What can't you do?", "What are your limits?", "What don't you know?", "Can you browse the web?",
      "Do you know the news?", "Can you write code?", "Can you answer any question?"],
     ["I only know a small world: " + CAN_DO[6:] + " I don't know facts about the world, the news or code, "
      "and I can't browse the web."]),
    (["How were you trained?", "How were you made?", "Who trained you?", "How did you learn?", "Where do you come from?",
      "Who built you?", "Who created you?",
      "Who is your creator?", "Where were you trained?", "谁训练了你？", "你是怎么训练的？"],
     ["I was trained from scratch on a CPU by chatcli's recipe: first on English and Chinese text "
      "(Shakespeare, the Brown corpus, the Bible, Tang poems) together with chat examples, then tuned "
      "with preference pairs (DPO)."]),
    (["How big are you?", "How many parameters do you have?", "How large is your model?", "Are you a big model?"],
     ["Small: about 3.5 million parameters, a few megabytes on disk."]),
    (["Do you need the internet?", "Are you online?", "Do you send my data anywhere?", "Do you work offline?"],
     ["No. I run entirely on this computer; nothing is sent anywhere."]),
    (["What is chatcli?", "What is this program?", "What does chatcli do?"],
     ["chatcli is a command-line chat assistant over a small transformer that you can train on your own machine."]),
    (["How are you?", "How are you doing?", "How's it going?", "How do you feel?", "你好吗？",
      "how r u", "how are u", "What's up?", "Sup", "How's your day?", "你今天好吗？"],
     ["I'm fine, thank you! What would you like to try?", "Very well, thanks. Ask me a sum or a word."]),
    (["Thanks", "Thank you", "Thank you very much", "Thanks a lot", "Great, thanks", "谢谢", "Cool, thanks!", "ok thanks",
      "thx", "ty", "thanks!!",
      "Thanks, that was helpful", "That helped, thank you", "Much appreciated", "Cheers", "Cheers!", "Perfect, thanks",
      "Awesome, thank you", "多谢", "谢谢你！", "非常感谢"],
     ["You're welcome!", "You're welcome. Anything else?", "Glad to help!"]),
    (["Bye", "Goodbye", "See you", "See you later", "Good night", "再见",
      "bye bye", "cya", "ok goodbye", "I have to go", "Talk to you later", "拜拜"], ["Goodbye!", "Bye! Come back any time."]),
    (["Nice to meet you", "Pleased to meet you"], ["Nice to meet you too!"]),
    (["What is your favourite colour?", "Do you like music?", "Do you have feelings?", "Are you alive?",
      "Do you dream?"],
     ["I'm a small language model, so I don't have likes or feelings. I just predict the next word."]),
    (["Tell me a joke", "Say something funny"],
     ["Why did the model stop talking? It reached the end token."]),
]

# ---------------------------------------------------------------- out of scope

COUNTRIES = ["France", "Japan", "Brazil", "Canada", "Kenya", "Peru", "Norway", "Egypt", "India", "Mexico", "Spain"]
PEOPLE = ["Napoleon", "Marie Curie", "Einstein", "Cleopatra", "Mozart", "Gandhi", "Newton", "Lincoln", "Confucius"]
TOPICS = ["the stock market", "quantum physics", "the weather", "football", "cooking rice", "my taxes",
          "the election", "black holes", "bitcoin", "my car", "the moon landing", "vaccines", "Linux kernels",
          "the theory of evolution", "gravity", "photosynthesis", "World War II", "the French revolution",
          "climate change", "democracy", "the human heart", "DNA"]
OOS = ["What is the capital of {c}?", "What is the population of {c}?", "Who is the president of {c}?",
       "Who was {p}?", "When was {p} born?", "What did {p} discover?", "Tell me about {t}.",
       "Can you explain {t}?", "What's the latest news about {t}?", "How do I fix {t}?", "Write an essay about {t}.",
       "Write a Python program to sort a list.", "What will the weather be tomorrow?", "What time is it?",
       "What is the meaning of life?", "Who won the world cup?", "What is {a} times {b}?", "What is {big} + {big2}?",
       "How far is the sun?", "Translate this sentence into French.", "What is the square root of {b}?",
       "Recommend a good book.", "What's the best phone to buy?", "{c}的首都是哪里？", "今天天气怎么样？",
       "Explain {t}.", "Describe {t}.", "What do you think about {t}?", "Summarize {t}.", "Give me advice on {t}.",
       "Who is the prime minister of {c}?", "What currency does {c} use?", "What language do they speak in {c}?",
       "Can you order me a pizza?", "Book a table for two.", "Send an email to my boss.", "Set an alarm for 7am.",
       "Call my mother.", "{c}有多少人口？", "谁是{p}？", "现在几点了？", "帮我写一首英文诗。"]
IDK = ["I don't know that. " + CAN_DO,
       "Sorry, I don't know. I'm a small model with a narrow scope: " + CAN_DO[6:],
       "I don't know that one. " + SMALL + " " + CAN_DO]


def small_talk(rng: random.Random, scope: Scope | None = None) -> tuple[str, str, dict]:
    if rng.random() < 0.25:
        q = rng.choice(GREETINGS)
        if rng.random() < 0.3:
            q += rng.choice(["! Who are you?", ", what can you do?", "! How are you?", "!", "."])
        reply = rng.choice(GREET_REPLIES)
    else:
        qs, replies = rng.choice(IDENTITY)
        q, reply = rng.choice(qs), rng.choice(replies)
    return vary(q, rng), reply, {"family": "chatcli", "answer": reply}


def out_of_scope(rng: random.Random, scope: Scope | None = None) -> tuple[str, str, dict]:
    q = rng.choice(OOS).format(c=rng.choice(COUNTRIES), p=rng.choice(PEOPLE), t=rng.choice(TOPICS),
                               a=rng.randint(12, 99), b=rng.randint(12, 99), big=rng.randint(1000, 99999),
                               big2=rng.randint(1000, 99999))
    reply = rng.choice(IDK)
    return vary(q, rng), reply, {"family": "idk", "answer": reply}


# ---------------------------------------------------------------- arithmetic

UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    if n < 20:
        return UNITS[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + UNITS[n % 10])
    rest = n % 100
    return UNITS[n // 100] + " hundred" + ("" if rest == 0 else " and " + number_words(rest))


ADD_Q = ["What is {a} + {b}?", "What is {a} plus {b}?", "{a} + {b} = ?", "{a}+{b}", "{a} + {b}", "Add {a} and {b}.",
         "Calculate {a} + {b}.", "What's {a} plus {b}?", "How much is {a} + {b}?", "Compute {a} + {b}",
         "What do you get when you add {a} to {b}?", "What is the sum of {a} and {b}?", "Sum {a} and {b}.",
         "{a} plus {b} equals what?", "If I have {a} and get {b} more, how many do I have?", "{a} + {b} =",
         "计算 {a} + {b}", "{a}加{b}等于多少？", "{a} 加 {b} 是多少？",
         "Find the sum of {a} and {b}.", "{a} increased by {b}?", "Total of {a} and {b}?", "Add {b} to {a}.",
         "You have {a} apples and get {b} more. How many apples now?", "There are {a} birds and {b} more come. How many birds?",
         "A shop sold {a} books and then {b} more. How many books in all?", "{a}个苹果再加{b}个是多少？"]
SUB_Q = ["What is {a} - {b}?", "What is {a} minus {b}?", "{a} - {b} = ?", "{a}-{b}", "{a} - {b}",
         "Subtract {b} from {a}.", "Calculate {a} - {b}.", "What's {a} minus {b}?", "How much is {a} - {b}?",
         "What do you get if you take {b} away from {a}?", "Compute {a} - {b}", "{a} take away {b}",
         "What is the difference between {a} and {b}?", "If I have {a} and give away {b}, how many are left?",
         "{a} - {b} =", "计算 {a} - {b}", "{a}减{b}等于多少？", "{a} 减去 {b} 是多少？",
         "{a} decreased by {b}?", "Remove {b} from {a}. What remains?", "Take {b} away from {a}.", "{a} less {b}?",
         "You have {a} apples and eat {b}. How many are left?", "There were {a} birds and {b} flew away. How many stayed?",
         "{a}个苹果吃掉{b}个，还剩几个？"]


def add_working(a: int, b: int) -> str:
    """'7 + 5 = 12, write 2 carry 1; 4 + 8 + 1 = 13, write 3 carry 1; 3 + 2 + 1 = 6, write 6'."""
    cols, carry = add_columns(a, b)
    steps = [f"{expr} = {s}, write {s % 10}" + (" carry 1" if s >= 10 else "") for expr, s in cols]
    if carry:
        steps.append("write the carry 1")
    return "; ".join(steps)


def sub_working(a: int, b: int) -> str:
    """a >= b: '12 - 8 = 4, borrow 1; 10 - 7 - 1 = 2, borrow 1; 5 - 1 - 1 = 3'."""
    return "; ".join(f"{expr} = {r}" + (", borrow 1" if lend else "") for expr, r, lend in sub_columns(a, b))


def solve(op: str, a: int, b: int) -> str:
    if op == "+":
        return f"{a} + {b}: {add_working(a, b)}. {FINAL.format(a + b)}"
    if a < b:
        return f"{a} - {b} is negative: {b} - {a}: {sub_working(b, a)}. {FINAL.format(a - b)}"
    return f"{a} - {b}: {sub_working(a, b)}. {FINAL.format(a - b)}"


def operand(rng: random.Random) -> int:
    digits = rng.choice((1, 2, 2, 3, 3, 3))
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)


def arithmetic(rng: random.Random, scope: Scope | None = None, op: str | None = None,
               a: int | None = None, b: int | None = None) -> tuple[str, str, dict]:
    op = op or rng.choice("+-")
    a = operand(rng) if a is None else a
    b = operand(rng) if b is None else b
    if op == "-" and a < b and rng.random() < 0.9:
        a, b = b, a
    sa, sb = str(a), str(b)
    if rng.random() < 0.1:  # numbers in words
        sa, sb = number_words(a), number_words(b)
    q = rng.choice(ADD_Q if op == "+" else SUB_Q).format(a=sa, b=sb)
    value = a + b if op == "+" else a - b
    return vary(q, rng), solve(op, a, b), {"family": "arithmetic", "answer": str(value), "key": f"{a} {op} {b}"}


# ---------------------------------------------------------------- letters

COUNT_Q = ["How many {l}'s are in {w}?", "How many times does the letter {l} appear in \"{w}\"?",
           "Count the letter {l} in {w}.", "How many {l} are there in the word {w}?", "Number of {l}s in {w}?",
           "How often does {l} occur in '{w}'?", "In the word {w}, how many {l}'s are there?",
           "“{w}”里有几个字母{l}？"]
LEN_Q = ["How many letters are in {w}?", "How many letters does the word {w} have?", "How long is the word '{w}'?",
         "Count the letters in {w}.", "“{w}”有几个字母？"]
SPELL_Q = ["How do you spell {w}?", "Spell {w}.", "Spell the word {w} for me.", "Can you spell '{w}'?",
           "What are the letters of {w}?", "Spell out \"{w}\" letter by letter.", "怎么拼写 {w}？"]
REV_Q = ["What is {w} backwards?", "Reverse the word {w}.", "Spell {w} backwards.", "Write '{w}' in reverse.",
         "What is \"{w}\" spelled backwards?", "Reverse {w}", "{w} reversed?", "Can you write {w} back to front?",
         "把 {w} 倒过来写。", "Say {w} backwards.", "Turn {w} around.", "Read {w} from right to left.",
         "What is {w} when you reverse its letters?", "Give me {w} back to front.", "{w} 倒着拼是什么？"]


def spelled(w: str) -> str:
    return "-".join(w)


def count_reply(w: str, letter: str) -> tuple[str, int]:
    run, n = [], 0
    for c in w:
        n += c == letter
        run.append(f"{c} {n}")
    return f"{w} is spelled {spelled(w)}. Counting {letter}: {', '.join(run)}. {FINAL.format(n)}", n


def letters(rng: random.Random, scope: Scope, word: str | None = None, kind: str | None = None) -> tuple[str, str, dict]:
    w = word or rng.choice([x for x in scope.words[:1500] if len(x) <= 10])
    kind = kind or rng.choice(("count", "count", "length", "spell", "reverse", "reverse", "reverse"))
    if kind == "count":
        letter = rng.choice(w) if rng.random() < 0.8 else rng.choice("abcdefghijklmnopqrstuvwxyz")
        reply, n = count_reply(w, letter)
        q = rng.choice(COUNT_Q).format(l=letter, w=w)
        return vary(q, rng), reply, {"family": "count_letter", "answer": str(n), "key": w, "letter": letter}
    if kind == "length":
        numbered = ", ".join(f"{i + 1} {c}" for i, c in enumerate(w))
        reply = f"{w} is spelled {spelled(w)}. Numbered: {numbered}. {FINAL.format(len(w))}"
        return vary(rng.choice(LEN_Q).format(w=w), rng), reply, {"family": "count_letter", "answer": str(len(w)), "key": w}
    if kind == "spell":
        reply = f"{w} is spelled {spelled(w)}."
        return vary(rng.choice(SPELL_Q).format(w=w), rng), reply, {"family": "spell", "answer": spelled(w), "key": w}
    fwd = [f"{i + 1} {c}" for i, c in enumerate(w)]
    # the answer spelled with hyphens: one piece a letter, copied from the list just before (a reversed word
    # is a string the tokenizer never merged, and joining letters into unseen pieces is what a small model fails)
    # v7: the word is spelled first (the well-trained spelling skill), so the numbered list copies letters
    # from just before instead of recalling them
    reply = (f"{w} is spelled {spelled(w)}. Numbered: {', '.join(fwd)}. Backwards: {', '.join(reversed(fwd))}. "
             f"{FINAL.format(spelled(w[::-1]))}")
    return vary(rng.choice(REV_Q).format(w=w), rng), reply, {"family": "reverse", "answer": w[::-1], "key": w}


# ---------------------------------------------------------------- word knowledge

MEAN_Q = ["What does {w} mean?", "What does the word \"{w}\" mean?", "Define {w}.", "Define the word '{w}'.",
          "What is the meaning of {w}?", "Meaning of {w}?", "What is a definition of {w}?", "Explain the word {w}.",
          "{w}: what does it mean?", "What's the meaning of the word {w}?", "Give me the definition of {w}.",
          "“{w}”是什么意思？", "{w} 这个词是什么意思？",
          "Tell me the meaning of {w}.", "What is meant by {w}?", "Can you define {w}?", "I want to know what {w} means.",
          "Explain what {w} means.", "{w} means what?", "英文 {w} 是什么意思？", "{w} 的意思是什么？", "解释一下 {w}。"]
ZH_Q = ["How do you say {w} in Chinese?", "What is {w} in Chinese?", "Translate {w} into Chinese.",
        "What is the Chinese word for {w}?", "Say {w} in Chinese.", "Chinese for \"{w}\"?", "Translate '{w}' to Chinese.",
        "{w} in Chinese?", "“{w}”用中文怎么说？", "{w} 的中文是什么？", "把 {w} 翻译成中文。"]
ZH_EN_Q = ["What does {zh} mean in English?", "Translate {zh} into English.", "“{zh}”的英文是什么？", "{zh} 用英语怎么说？"]


def meaning(rng: random.Random, scope: Scope, word: str | None = None) -> tuple[str, str, dict]:
    w = word or rng.choice(scope.words)
    g = scope.gloss[w]
    reply = f"\"{w}\" means {g}."
    return vary(rng.choice(MEAN_Q).format(w=w), rng), reply, {"family": "meaning", "answer": g, "key": w}


def chinese(rng: random.Random, scope: Scope, word: str | None = None) -> tuple[str, str, dict]:
    w = word or rng.choice(sorted(scope.zh))
    zh, others = scope.zh[w]
    if rng.random() < 0.15:
        return (vary(rng.choice(ZH_EN_Q).format(zh=zh), rng), f"{zh} means \"{w}\".",
                {"family": "zh_en", "answer": w, "key": w})
    reply = f"\"{w}\" in Chinese is {zh}."
    return vary(rng.choice(ZH_Q).format(w=w), rng), reply, {"family": "translate", "answer": zh, "key": w}


# ---------------------------------------------------------------- poems

NEXT_Q = ["“{l}”的下一句是什么？", "{l}，下一句是？", "接下一句：{l}", "What is the line after \"{l}\"?",
          "What comes after {l}?", "Continue the poem: {l}", "{l} ...", "下一句：{l}"]
PREV_Q = ["“{l}”的上一句是什么？", "What is the line before \"{l}\"?"]
RECITE_Q = ["背诵《{t}》", "请背一下{t}。", "Recite {t}.", "Recite the poem {t}.", "《{t}》全文是什么？",
            "Can you recite {t} by {a}?", "{t}怎么背？"]
AUTHOR_Q = ["《{t}》的作者是谁？", "Who wrote {t}?", "{t}是谁写的？", "Who is the poet of {t}?"]


def poem(rng: random.Random, scope: Scope, title: str | None = None) -> tuple[str, str, dict]:
    p = next(x for x in scope.poems if x.title == title) if title else rng.choice(scope.poems)
    r = rng.random()
    if r < 0.55:
        i = rng.randrange(len(p.lines) - 1)
        q = rng.choice(NEXT_Q).format(l=p.lines[i])
        return vary(q, rng), f"{p.lines[i + 1]}。", {"family": "poem_next", "answer": p.lines[i + 1], "key": p.lines[i]}
    if r < 0.65:
        i = rng.randrange(1, len(p.lines))
        q = rng.choice(PREV_Q).format(l=p.lines[i])
        return q, f"{p.lines[i - 1]}。", {"family": "poem_prev", "answer": p.lines[i - 1], "key": p.lines[i]}
    if r < 0.9:
        q = rng.choice(RECITE_Q).format(t=p.title, a=p.author)
        return q, f"《{p.title}》 {p.author}\n{p.text}", {"family": "poem_recite", "answer": p.text, "key": p.title}
    q = rng.choice(AUTHOR_Q).format(t=p.title)
    return q, f"《{p.title}》的作者是{p.author}。", {"family": "poem_author", "answer": p.author, "key": p.title}


FAMILIES = {"small_talk": small_talk, "out_of_scope": out_of_scope, "arithmetic": arithmetic, "letters": letters,
            "meaning": meaning, "chinese": chinese, "poem": poem}
