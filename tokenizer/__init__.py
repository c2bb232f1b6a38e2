"""SentencePiece tokenizer, chat template and streaming decoder. Needs no torch."""
from tokenizer.chat import ChatTemplate, Message
from tokenizer.sp import SPECIAL_TOKENS, Tokenizer, TokenizerError, train_tokenizer
from tokenizer.stream import StreamDecoder

__all__ = ["SPECIAL_TOKENS", "Tokenizer", "TokenizerError", "train_tokenizer", "ChatTemplate", "Message",
           "StreamDecoder"]
