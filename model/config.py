"""ModelConfig: the shape of the network, its validation, and named presets."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


class ConfigError(ValueError):
    """A model configuration that cannot describe a working network."""


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 0  # 0 means "same as n_heads" (plain multi-head attention)
    ffn_hidden: int = 0  # 0 means "about 8/3 * dim, rounded up to a multiple of 32" (SwiGLU)
    max_seq_len: int = 256
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        if self.n_kv_heads == 0:
            self.n_kv_heads = self.n_heads
        if self.ffn_hidden == 0:
            self.ffn_hidden = _round_up(int(8 * self.dim / 3), 32)
        self.validate()

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def validate(self) -> None:
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden", "max_seq_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.dim % self.n_heads:
            raise ConfigError(f"dim ({self.dim}) must be divisible by n_heads ({self.n_heads})")
        if self.head_dim % 2:
            raise ConfigError(f"head_dim ({self.head_dim}) must be even for rotary embeddings")
        if self.n_heads % self.n_kv_heads:
            raise ConfigError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.rope_theta <= 0 or self.norm_eps <= 0:
            raise ConfigError("rope_theta and norm_eps must be positive")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**data)

    def num_params(self) -> int:
        """Parameter count computed from the shape alone (tied head counted once)."""
        d, kv = self.dim, self.n_kv_heads * self.head_dim
        attn = d * d * 2 + d * kv * 2
        mlp = 3 * d * self.ffn_hidden
        per_layer = attn + mlp + 2 * d
        emb = self.vocab_size * d
        head = 0 if self.tie_embeddings else self.vocab_size * d
        return emb + self.n_layers * per_layer + d + head


def _round_up(x: int, multiple: int) -> int:
    return ((x + multiple - 1) // multiple) * multiple


# Named shapes. vocab_size here is a default; training replaces it with the tokenizer's size.
PRESETS: dict[str, dict] = {
    "nano": dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=128),
    "tiny": dict(dim=128, n_layers=4, n_heads=4, n_kv_heads=2, max_seq_len=256),
    "small": dict(dim=256, n_layers=6, n_heads=8, n_kv_heads=4, max_seq_len=512),
    "base": dict(dim=384, n_layers=8, n_heads=6, n_kv_heads=6, max_seq_len=512),
    "medium": dict(dim=512, n_layers=8, n_heads=8, n_kv_heads=8, max_seq_len=1024),
    "gpt2": dict(dim=768, n_layers=12, n_heads=12, n_kv_heads=12, max_seq_len=1024, vocab_size=32768),
    # Shapes of llama2.c's stories checkpoints, for benchmarks against peers.
    "stories260k": dict(dim=64, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512, max_seq_len=512, ffn_hidden=172),
    "stories15m": dict(dim=288, n_layers=6, n_heads=6, vocab_size=32000, max_seq_len=256, ffn_hidden=768, tie_embeddings=True),
    "stories42m": dict(dim=512, n_layers=8, n_heads=8, vocab_size=32000, max_seq_len=1024, ffn_hidden=1376, tie_embeddings=True),
}


def preset(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return ModelConfig(**{**PRESETS[name], **overrides})
