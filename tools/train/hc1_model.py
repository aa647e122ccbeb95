"""A llama-architecture transformer with llama2.c's semantics, and its legacy export.

RMSNorm (eps 1e-5), rotary embeddings on interleaved pairs (theta 10000),
grouped-query attention (query head h reads key/value head h // (n_heads /
n_kv_heads)), SwiGLU feed-forward w2(silu(w1 x) * w3 x), no biases, and a
classifier tied to the token embedding.  These are the choices run.c
assumes when it reads a legacy checkpoint.
"""

import math
import struct
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelArgs:
    dim: int = 128
    n_layers: int = 4
    n_heads: int = 8
    n_kv_heads: int = 4
    vocab_size: int = 512
    hidden_dim: int = 0  # 0: llama2.c's rule, 2/3 of 4*dim rounded up to multiple_of
    multiple_of: int = 32
    norm_eps: float = 1e-5
    max_seq_len: int = 256

    def __post_init__(self):
        if self.dim % self.n_heads or self.n_heads % self.n_kv_heads or (self.dim // self.n_heads) % 2:
            raise ValueError("dim, n_heads and n_kv_heads do not divide into even head sizes")
        if not self.hidden_dim:
            h = int(2 * (4 * self.dim) / 3)
            self.hidden_dim = self.multiple_of * ((h + self.multiple_of - 1) // self.multiple_of)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_size, seq_len, theta=10000.0):
    """cos and sin of pos * theta^(-2i/head_size), shape (seq_len, head_size/2)."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_size, 2).float() / head_size))
    angles = torch.outer(torch.arange(seq_len).float(), freqs)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin):
    """Rotate the pairs (x[..., 2i], x[..., 2i+1]); x is (batch, seq, heads, head_size)."""
    xr, xi = x.float().reshape(*x.shape[:-1], -1, 2).unbind(-1)
    cos = cos[None, :, None, :]
    sin = sin[None, :, None, :]
    return torch.stack((xr * cos - xi * sin, xr * sin + xi * cos), dim=-1).flatten(3).type_as(x)


class Attention(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.n_heads = args.n_heads
        self.n_kv_heads = args.n_kv_heads
        self.head_size = args.dim // args.n_heads
        self.wq = nn.Linear(args.dim, args.n_heads * self.head_size, bias=False)
        self.wk = nn.Linear(args.dim, args.n_kv_heads * self.head_size, bias=False)
        self.wv = nn.Linear(args.dim, args.n_kv_heads * self.head_size, bias=False)
        self.wo = nn.Linear(args.n_heads * self.head_size, args.dim, bias=False)
        mask = torch.full((1, 1, args.max_seq_len, args.max_seq_len), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_size)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_size)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_size)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.n_heads // self.n_kv_heads
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_size) + self.mask[:, :, :t, :t]
        out = F.softmax(scores.float(), dim=-1).type_as(q) @ v
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.w1 = nn.Linear(args.dim, args.hidden_dim, bias=False)
        self.w2 = nn.Linear(args.hidden_dim, args.dim, bias=False)
        self.w3 = nn.Linear(args.dim, args.hidden_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.attention = Attention(args)
        self.feed_forward = FeedForward(args)
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)

    def forward(self, x, cos, sin):
        h = x + self.attention(self.attention_norm(x), cos, sin)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(Block(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        self.output.weight = self.tok_embeddings.weight
        cos, sin = rope_tables(args.dim // args.n_heads, args.max_seq_len)
        self.register_buffer("freqs_cos", cos, persistent=False)
        self.register_buffer("freqs_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2's scaling of the residual projections by depth.
        for name, p in self.named_parameters():
            if name.endswith("w3.weight") or name.endswith("wo.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * args.n_layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, tokens, targets=None):
        t = tokens.shape[1]
        h = self.tok_embeddings(tokens)
        cos, sin = self.freqs_cos[:t], self.freqs_sin[:t]
        for layer in self.layers:
            h = layer(h, cos, sin)
        logits = self.output(self.norm(h))
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def n_params(self):
        return sum(p.numel() for p in self.parameters())


def export_legacy(model, path):
    """Write llama2.c's legacy (version 0) checkpoint.

    Header: 7 int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
    vocab_size (negative when the classifier is not shared), seq_len.
    Then fp32, each tensor for all layers before the next: embedding,
    rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, the RoPE cos
    and sin tables (seq_len x head_size/2 each, which run.c skips or uses
    as freq_cis_real/imag), and the classifier only if untied.
    """
    a = model.args
    shared = model.output.weight.data_ptr() == model.tok_embeddings.weight.data_ptr()
    vocab = a.vocab_size if shared else -a.vocab_size
    hidden_dim = model.layers[0].feed_forward.w1.weight.shape[0]
    tensors = [model.tok_embeddings.weight]
    for attr in ("attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo",
                 "ffn_norm", "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"):
        for layer in model.layers:
            mod = layer
            for part in attr.split("."):
                mod = getattr(mod, part)
            tensors.append(mod.weight)
    tensors += [model.norm.weight, model.freqs_cos[: a.max_seq_len], model.freqs_sin[: a.max_seq_len]]
    if not shared:
        tensors.append(model.output.weight)
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", a.dim, hidden_dim, a.n_layers, a.n_heads, a.n_kv_heads, vocab, a.max_seq_len))
        for t in tensors:
            f.write(t.detach().cpu().contiguous().view(-1).to(torch.float32).numpy().astype("<f4").tobytes())
