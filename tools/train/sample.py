#!/usr/bin/python3
"""Reference generator with llama2.c run.c semantics, in numpy, fp32.

Loads a llama2.c legacy checkpoint and a tokenizer.bin and does what
run.c's generate() does: encode the prompt with BOS first and the
dummy-prefix space, feed the prompt tokens, then sample (argmax at
temperature 0; otherwise temperature, softmax and top-p with run.c's
xorshift generator), stop at BOS or after --steps positions, and print
each piece through run.c's safe_printf, then a newline.

Usage mirrors run.c:  sample.py MODEL.bin -z TOKENIZER.bin -t 0 -n 200 -i "prompt"
"""

import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hc1_tokenizer  # noqa: E402

F32 = np.float32


class Checkpoint:
    """A llama2.c legacy (version 0) checkpoint: 7 int32 header, then fp32 tensors."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < 28:
            raise ValueError("%s: %d bytes is too short for a llama2.c header" % (path, len(data)))
        dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", data, 0)
        self.shared_classifier = vocab > 0
        vocab = abs(vocab)
        if min(dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len) <= 0 or dim % n_heads or n_heads % n_kv:
            raise ValueError("%s: implausible header %r" % (path, (dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len)))
        self.dim, self.hidden_dim, self.n_layers = dim, hidden, n_layers
        self.n_heads, self.n_kv_heads, self.vocab_size, self.seq_len = n_heads, n_kv, vocab, seq_len
        self.head_size = hs = dim // n_heads
        kv_dim = n_kv * hs
        shapes = [
            ("token_embedding", (vocab, dim)),
            ("rms_att", (n_layers, dim)),
            ("wq", (n_layers, dim, dim)),
            ("wk", (n_layers, kv_dim, dim)),
            ("wv", (n_layers, kv_dim, dim)),
            ("wo", (n_layers, dim, dim)),
            ("rms_ffn", (n_layers, dim)),
            ("w1", (n_layers, hidden, dim)),
            ("w2", (n_layers, dim, hidden)),
            ("w3", (n_layers, hidden, dim)),
            ("rms_final", (dim,)),
            ("freq_cis_real", (seq_len, hs // 2)),
            ("freq_cis_imag", (seq_len, hs // 2)),
        ]
        if not self.shared_classifier:
            shapes.append(("wcls", (vocab, dim)))
        expected = 28 + 4 * sum(int(np.prod(s)) for _, s in shapes)
        if len(data) != expected:
            raise ValueError("%s: %d bytes, header implies %d" % (path, len(data), expected))
        off = 28
        for name, shape in shapes:
            n = int(np.prod(shape))
            setattr(self, name, np.frombuffer(data, dtype="<f4", count=n, offset=off).reshape(shape))
            off += 4 * n
        if self.shared_classifier:
            self.wcls = self.token_embedding


def rmsnorm(x, weight):
    ss = F32(np.dot(x, x)) / F32(x.shape[0]) + F32(1e-5)
    return weight * (x * F32(1.0 / np.sqrt(ss, dtype=F32)))


def softmax(x):
    e = np.exp(x - x.max(), dtype=F32)
    return e / e.sum(dtype=F32)


class Transformer:
    """run.c's forward(): one token at a position, a KV cache per layer."""

    def __init__(self, ckpt):
        self.w = ckpt
        c = ckpt
        kv_dim = c.n_kv_heads * c.head_size
        self.key_cache = np.zeros((c.n_layers, c.seq_len, kv_dim), dtype=F32)
        self.value_cache = np.zeros((c.n_layers, c.seq_len, kv_dim), dtype=F32)
        # run.c: freq = 1 / powf(10000, head_dim / head_size), angle = pos * freq.
        head_dim = np.arange(0, c.head_size, 2, dtype=F32)
        self.freq = F32(1.0) / np.power(F32(10000.0), head_dim / F32(c.head_size), dtype=F32)

    def rope(self, v, pos):
        angle = F32(pos) * self.freq
        fcr, fci = np.cos(angle, dtype=F32), np.sin(angle, dtype=F32)
        pairs = v.reshape(-1, self.w.head_size // 2, 2)
        v0, v1 = pairs[..., 0].copy(), pairs[..., 1].copy()
        pairs[..., 0] = v0 * fcr - v1 * fci
        pairs[..., 1] = v0 * fci + v1 * fcr

    def forward(self, token, pos):
        w = self.w
        hs, kv_mul = w.head_size, w.n_heads // w.n_kv_heads
        x = w.token_embedding[token].copy()
        for l in range(w.n_layers):
            xb = rmsnorm(x, w.rms_att[l])
            q = w.wq[l] @ xb
            k = w.wk[l] @ xb
            v = w.wv[l] @ xb
            self.rope(q, pos)
            self.rope(k, pos)
            self.key_cache[l, pos] = k
            self.value_cache[l, pos] = v
            att_out = np.empty(w.dim, dtype=F32)
            for h in range(w.n_heads):
                kvh = h // kv_mul
                qh = q[h * hs : (h + 1) * hs]
                keys = self.key_cache[l, : pos + 1, kvh * hs : (kvh + 1) * hs]
                scores = (keys @ qh) / np.sqrt(F32(hs), dtype=F32)
                a = softmax(scores)
                att_out[h * hs : (h + 1) * hs] = a @ self.value_cache[l, : pos + 1, kvh * hs : (kvh + 1) * hs]
            x = x + w.wo[l] @ att_out
            xb = rmsnorm(x, w.rms_ffn[l])
            h1 = w.w1[l] @ xb
            h3 = w.w3[l] @ xb
            hb = h1 * (F32(1.0) / (F32(1.0) + np.exp(-h1, dtype=F32))) * h3
            x = x + w.w2[l] @ hb
        x = rmsnorm(x, w.rms_final)
        return w.wcls @ x


class Sampler:
    """run.c's Sampler: argmax at temperature 0, else softmax with top-p, xorshift rng."""

    MASK = (1 << 64) - 1

    def __init__(self, vocab_size, temperature, topp, seed):
        self.vocab_size = vocab_size
        self.temperature = F32(temperature)
        self.topp = F32(topp)
        self.state = seed & self.MASK

    def random_u32(self):
        s = self.state
        s ^= s >> 12
        s ^= (s << 25) & self.MASK
        s ^= s >> 27
        self.state = s
        return ((s * 0x2545F4914F6CDD1D) & self.MASK) >> 32

    def random_f32(self):
        return F32(self.random_u32() >> 8) / F32(16777216.0)

    @staticmethod
    def sample_mult(probs, coin):
        cdf = F32(0.0)
        for i, p in enumerate(probs):
            cdf = F32(cdf + p)
            if coin < cdf:
                return i
        return len(probs) - 1

    def sample_topp(self, probs, coin):
        n = len(probs)
        cutoff = (F32(1.0) - self.topp) / F32(n - 1)
        cand = [i for i in range(n) if probs[i] >= cutoff]
        cand.sort(key=lambda i: -probs[i])
        cum = F32(0.0)
        last = len(cand) - 1
        for j, i in enumerate(cand):
            cum = F32(cum + probs[i])
            if cum > self.topp:
                last = j
                break
        r = coin * cum
        cdf = F32(0.0)
        for j in range(last + 1):
            cdf = F32(cdf + probs[cand[j]])
            if r < cdf:
                return cand[j]
        return cand[last]

    def sample(self, logits):
        if self.temperature == 0:
            return int(np.argmax(logits))  # first maximum, as run.c's argmax
        probs = softmax((logits / self.temperature).astype(F32))
        coin = self.random_f32()
        if self.topp <= 0 or self.topp >= 1:
            return self.sample_mult(probs, coin)
        return self.sample_topp(probs, coin)


def safe_piece(piece):
    """run.c's safe_printf: drop a lone byte that is neither printable nor whitespace."""
    if len(piece) == 1 and not (0x20 <= piece[0] < 0x7F or piece[0] in b" \t\n\v\f\r"):
        return b""
    return piece


def generate(model, tok, sampler, prompt, steps, stats=None):
    """run.c's generate(); returns the bytes it would print (including the final newline)."""
    tokens = tok.encode(prompt, bos=True)
    if steps <= 0 or steps > model.w.seq_len:
        steps = model.w.seq_len
    out = bytearray()
    token, pos = tokens[0], 0
    margins = []
    while pos < steps:
        logits = model.forward(token, pos)
        if pos < len(tokens) - 1:
            nxt = tokens[pos + 1]
        else:
            top2 = np.partition(logits, -2)[-2:]
            margins.append(float(top2[1] - top2[0]))
            nxt = sampler.sample(logits)
        pos += 1
        if nxt == hc1_tokenizer.BOS:
            break
        out += safe_piece(tok.piece_bytes(token, nxt))
        token = nxt
    out += b"\n"
    if stats is not None:
        stats["positions"] = pos
        stats["min_top2_margin"] = min(margins) if margins else None
    return bytes(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("-z", dest="tokenizer", required=True, help="tokenizer.bin")
    p.add_argument("-t", dest="temperature", type=float, default=1.0, help="0 = greedy (default 1.0)")
    p.add_argument("-p", dest="topp", type=float, default=0.9, help="top-p (default 0.9)")
    p.add_argument("-s", dest="seed", type=int, default=0, help="rng seed, > 0 (default: time)")
    p.add_argument("-n", dest="steps", type=int, default=256, help="positions, prompt included (0 = seq_len)")
    p.add_argument("-i", dest="prompt", default="")
    p.add_argument("--margin", action="store_true",
                   help="report on stderr the smallest top-1/top-2 logit gap among sampled positions")
    a = p.parse_args()
    if a.temperature < 0 or not 0 <= a.topp <= 1:
        p.error("temperature must be >= 0 and top-p in [0, 1]")
    try:
        ckpt = Checkpoint(a.checkpoint)
        tok = hc1_tokenizer.Tokenizer.load(a.tokenizer, ckpt.vocab_size)
    except (OSError, ValueError) as e:
        sys.exit("sample.py: %s" % e)
    seed = a.seed
    if seed <= 0:
        import time

        seed = int(time.time())
    stats = {}
    out = generate(Transformer(ckpt), tok, Sampler(ckpt.vocab_size, a.temperature, a.topp, seed), a.prompt,
                   a.steps, stats)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    if a.margin:
        print("positions %d, smallest top-2 logit margin %s" % (stats["positions"], stats["min_top2_margin"]),
              file=sys.stderr)


if __name__ == "__main__":
    main()
