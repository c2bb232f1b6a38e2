"""Tokenizer: exact round trips, special-token injection safety, chat template masks, streaming."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenizer.chat import END, ROLES, ChatTemplate, jinja_template, marker
from tokenizer.sp import SPECIAL_TOKENS, Tokenizer, TokenizerError, train_tokenizer
from tokenizer.stream import StreamDecoder

SAMPLES = ["Hello world", "  leading and  double  spaces ", "line one\nline two\n\nthree", "床前明月光，疑是地上霜。",
           "emoji 😀👍🏽 and ZWJ 👩‍👩‍👧", "tabs\tand\rcarriage", "12345 + 678 = 13023", "", " ", "\n",
           "<|user|> <|end|> <s> </s> <unk>", "Ünïcödé çafé naïve", "\x00\x01 control"]

# any text, including the literal marker strings, surrogate-free
TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(list(SPECIAL_TOKENS) + ["<s>", "</s>", "<unk>", " ", "a", "床", "😀", "\n"]),
             max_size=12).map("".join),
)


def test_special_ids_are_control_symbols(tokenizer):
    assert tokenizer.has_chat_tokens
    assert tokenizer.bos_id == 1 and tokenizer.eos_id == 2
    assert sorted(tokenizer.special.values()) == [3, 4, 5, 6]
    for tid in tokenizer.special.values():
        assert tokenizer.is_special(tid)


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip_exact(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text)) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_round_trip_and_no_control_ids_fuzz(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert not any(tokenizer.is_special(i) for i in ids)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(system=TEXT, user=TEXT, assistant=TEXT)
def test_template_injection_is_impossible(tokenizer, system, user, assistant):
    """Whatever the text, the only special ids are the ones the template places."""
    tpl = ChatTemplate(tokenizer)
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": user},
            {"role": "assistant", "content": assistant}]
    ids, mask = tpl.render(msgs)
    special = [i for i in ids if tokenizer.is_special(i)]
    s = tokenizer.special
    assert special == [tokenizer.bos_id, s["<|system|>"], s["<|end|>"], s["<|user|>"], s["<|end|>"],
                       s["<|assistant|>"], s["<|end|>"]]
    prompt = tpl.render_prompt(msgs[:2])
    assert [i for i in prompt if tokenizer.is_special(i)] == special[:5] + [s["<|assistant|>"]]


def test_loss_mask_covers_assistant_text_and_end_only(tokenizer):
    tpl = ChatTemplate(tokenizer)
    msgs = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"},
            {"role": "user", "content": "and 3 + 3?"}, {"role": "assistant", "content": "6 of course"}]
    ids, mask = tpl.render(msgs)
    assert len(ids) == len(mask)
    learned = [i for i, m in zip(ids, mask) if m]
    end = tokenizer.special["<|end|>"]
    assert learned == tokenizer.encode("4") + [end] + tokenizer.encode("6 of course") + [end]
    # the prompt for the next turn is a prefix of the full rendering
    assert ids[:len(tpl.render_prompt(msgs[:3]))] == tpl.render_prompt(msgs[:3])


def test_helpers_for_encoded_text_agree_with_the_rendering(tokenizer):
    """wrap / reply_ids / generation_prefix (for text already encoded) build what render builds."""
    tpl = ChatTemplate(tokenizer)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello there"}]
    ids, _ = tpl.render(msgs)
    by_hand = [tokenizer.bos_id] + [x for m in msgs for x in tpl.wrap(m["role"], tokenizer.encode(m["content"]))]
    assert by_hand == ids
    prompt = tpl.render_prompt(msgs[:2])
    assert prompt[-len(tpl.generation_prefix):] == tpl.generation_prefix == [tokenizer.special["<|assistant|>"]]
    assert prompt + tpl.reply_ids("hello there") == ids


# what chatcli/hf_export.py and chatcli/gguf_export.py wrote when each spelled its template by hand
HF_TEMPLATE_BEFORE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('roles are system, user and assistant') }}"
    "{% endif %}"
    "{% if message['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('a system message may only come first') }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
GGUF_TEMPLATE_BEFORE = ("{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] + '<|end|>' }}"
                        "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")


def test_jinja_template_is_byte_identical_to_the_hand_spelled_ones():
    from chatcli.gguf_export import CHAT_TEMPLATE as GGUF
    from chatcli.hf_export import CHAT_TEMPLATE as HF
    assert jinja_template(checked=True) == HF == HF_TEMPLATE_BEFORE
    assert jinja_template(checked=False) == GGUF == GGUF_TEMPLATE_BEFORE


def test_markers_are_spelled_in_one_place():
    assert SPECIAL_TOKENS == tuple(marker(name) for name in (*ROLES, END))


@pytest.mark.parametrize("checked", [True, False])
def test_jinja_template_renders_the_marker_layout(checked):
    jinja2 = pytest.importorskip("jinja2")

    def raise_exception(msg):
        raise ValueError(msg)

    tpl = jinja2.Environment().from_string(jinja_template(checked=checked))
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    out = tpl.render(messages=msgs, bos_token="<s>", add_generation_prompt=True, raise_exception=raise_exception)
    assert out == "<s><|system|>Be brief.<|end|><|user|>hi<|end|><|assistant|>"
    if checked:
        with pytest.raises(ValueError, match="may only come first"):
            tpl.render(messages=msgs[::-1], bos_token="<s>", raise_exception=raise_exception)


@pytest.mark.parametrize("bad", [[{"role": "robot", "content": "x"}], [{"role": "user"}],
                                 [{"role": "user", "content": 3}],
                                 [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]])
def test_template_rejects_bad_messages(tokenizer, bad):
    with pytest.raises(TokenizerError):
        ChatTemplate(tokenizer).render(bad)


@pytest.mark.parametrize("text", ["The king said that the sea was calm.", "床前明月光，疑是地上霜。举头望明月",
                                  "mixed 😀 emoji 👍🏽 and 中文 text", "  spaced   words\nnew line"])
def test_stream_decoder_concatenates_to_full_decode(tokenizer, text):
    ids = tokenizer.encode(text)
    dec = StreamDecoder(tokenizer)
    chunks = [dec.push(i) for i in ids] + [dec.flush()]
    assert "".join(chunks) == tokenizer.decode(ids) == text
    assert not any("\ufffd" in c for c in chunks)  # never half a character


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_stream_decoder_fuzz(tokenizer, text):
    dec = StreamDecoder(tokenizer)
    out = "".join(dec.push(i) for i in tokenizer.encode(text)) + dec.flush()
    assert out == text


def test_save_and_load_round_trip(tmp_path, tokenizer):
    (tmp_path / "tokenizer.model").write_bytes(tokenizer.serialized())
    loaded = Tokenizer.load(tmp_path)
    assert loaded.vocab_size == tokenizer.vocab_size
    assert loaded.encode("the king 床") == tokenizer.encode("the king 床")


def test_load_errors(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        Tokenizer.load(tmp_path / "missing.model")
    bad = tmp_path / "tokenizer.model"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(TokenizerError, match="not a valid SentencePiece model"):
        Tokenizer.load(bad)


def test_vocab_too_small_or_too_large(corpus):
    with pytest.raises(TokenizerError, match="too small"):
        train_tokenizer(corpus, vocab_size=100)
    with pytest.raises(TokenizerError, match="vocab size"):
        train_tokenizer(["tiny corpus"], vocab_size=5000)


def test_digits_are_split(tokenizer):
    assert sum(p.strip("▁").isdigit() for p in tokenizer.pieces("12345")) == 5
