"""A small BPE vocabulary in llama2.c's tokenizer.bin format.

Layout of the vocabulary (the same shape as llama2.c's tok512):
  0 <unk>, 1 <s> (BOS), 2 </s> (EOS),
  3..258 byte-fallback tokens <0x00>..<0xFF>,
  then one piece per character of the corpus, then the learned merges.

Encoding is llama2.c's run.c algorithm, reimplemented here so that the
training data is tokenized by the very procedure the engine uses on a
prompt: a dummy-prefix " " token, one piece per UTF-8 character (bytes
when the character has no piece), then repeatedly merge the adjacent pair
whose concatenation is a piece with the highest score.  A merge learned
at rank r gets score -r, so that procedure applies merges in the order
they were learned, which is classic BPE.

Pieces never contain a space except as their first byte and never contain
a newline except the piece "\n" itself; so no concatenation across a
pre-token boundary is ever a piece, and encoding each pre-token on its
own gives the same tokens as encoding the whole text (which lets us cache
per word).
"""

import collections
import re
import struct

UNK, BOS, EOS = 0, 1, 2
BYTE_OFFSET = 3
N_SPECIAL = BYTE_OFFSET + 256

# A pre-token is a newline, or an optional single space and a run of
# characters that are neither space nor newline.
PRETOKEN_RE = re.compile(r"\n| ?[^ \n]+| ")


def pretokens(text):
    return PRETOKEN_RE.findall(text)


class Tokenizer:
    def __init__(self, pieces, scores):
        if len(pieces) != len(scores):
            raise ValueError("pieces and scores differ in length")
        if len(set(pieces)) != len(pieces):
            raise ValueError("duplicate pieces: run.c looks pieces up by string")
        self.pieces = list(pieces)
        self.scores = [float(s) for s in scores]
        self.ids = {p: i for i, p in enumerate(self.pieces)}
        if " " not in self.ids:
            raise ValueError('vocabulary lacks the " " piece run.c uses as dummy prefix')
        self.max_token_length = max(len(p.encode("utf-8")) for p in self.pieces)
        self._cache = {}

    @property
    def vocab_size(self):
        return len(self.pieces)

    # ------------------------------------------------------------ training
    @classmethod
    def train(cls, text, vocab_size):
        """Learn vocab_size - 259 - n_chars merges over the pre-tokens of text."""
        words = collections.Counter(pretokens(text))
        chars = collections.Counter()
        for w, n in words.items():
            for ch in w:
                chars[ch] += n
        char_pieces = [c for c, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))]
        pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + char_pieces
        n_merges = vocab_size - len(pieces)
        if n_merges < 0:
            raise ValueError("vocab_size %d leaves no room for %d characters" % (vocab_size, len(chars)))

        # Classic BPE over unique words weighted by their counts, with an
        # index from pair to the words holding it so each merge only
        # revisits the words it changes.
        seqs = [list(w) for w in words]
        counts = [words[w] for w in words]
        pair_count = collections.Counter()
        where = collections.defaultdict(set)
        for i, s in enumerate(seqs):
            for a, b in zip(s, s[1:]):
                pair_count[(a, b)] += counts[i]
                where[(a, b)].add(i)
        merges = []
        known = set(pieces)
        while len(merges) < n_merges:
            candidates = [(n, p) for p, n in pair_count.items() if n > 0 and p[0] + p[1] not in known]
            if not candidates:
                break
            # Highest count; ties broken by the pair itself so training is deterministic.
            n, (a, b) = max(candidates, key=lambda c: (c[0], c[1]))
            merged = a + b
            merges.append(merged)
            known.add(merged)
            for i in list(where[(a, b)]):
                s = seqs[i]
                for x, y in zip(s, s[1:]):
                    pair_count[(x, y)] -= counts[i]
                    where[(x, y)].discard(i)
                out = []
                j = 0
                while j < len(s):
                    if j + 1 < len(s) and s[j] == a and s[j + 1] == b:
                        out.append(merged)
                        j += 2
                    else:
                        out.append(s[j])
                        j += 1
                seqs[i] = out
                for x, y in zip(out, out[1:]):
                    pair_count[(x, y)] += counts[i]
                    where[(x, y)].add(i)
        scores = [0.0] * len(pieces) + [-float(r + 1) for r in range(len(merges))]
        return cls(pieces + merges, scores)

    # ------------------------------------------------------------ encoding
    def _encode_chars(self, text):
        tokens = []
        for ch in text:
            i = self.ids.get(ch)
            if i is not None:
                tokens.append(i)
            else:
                tokens.extend(b + BYTE_OFFSET for b in ch.encode("utf-8"))
        return tokens

    def _merge(self, tokens):
        """run.c's loop: merge the leftmost best-scoring adjacent pair until none."""
        pieces, ids, scores = self.pieces, self.ids, self.scores
        while True:
            best_score, best_id, best_idx = -1e10, -1, -1
            for i in range(len(tokens) - 1):
                j = ids.get(pieces[tokens[i]] + pieces[tokens[i + 1]])
                if j is not None and scores[j] > best_score:
                    best_score, best_id, best_idx = scores[j], j, i
            if best_idx < 0:
                return tokens
            tokens[best_idx : best_idx + 2] = [best_id]

    def encode_raw(self, text):
        """Tokens of text with no BOS and no dummy prefix."""
        out = []
        for w in pretokens(text):
            t = self._cache.get(w)
            if t is None:
                t = self._merge(self._encode_chars(w))
                if len(self._cache) < 1 << 20:
                    self._cache[w] = t
            out.extend(t)
        return out

    def encode(self, text, bos=True, eos=False):
        """Exactly run.c's encode(): BOS, dummy prefix " " (if text), merges, EOS."""
        tokens = [BOS] if bos else []
        if text:
            tokens += self.encode_raw(" " + text)
        if eos:
            tokens.append(EOS)
        return tokens

    def encode_whole(self, text):
        """run.c's merge loop over the whole string, without per-word caching (slow; for tests)."""
        return self._merge([self.ids[" "]] + self._encode_chars(text)) if text else []

    # ------------------------------------------------------------ decoding
    def piece_bytes(self, prev_token, token):
        """run.c's decode(): strip the leading space after BOS, map <0xXX> to its byte."""
        piece = self.pieces[token]
        if prev_token == BOS and piece.startswith(" "):
            piece = piece[1:]
        m = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece)
        if m:
            return bytes([int(m.group(1), 16)])
        return piece.encode("utf-8")

    def decode(self, tokens, prev_token=BOS):
        out = bytearray()
        prev = prev_token
        for t in tokens:
            out += self.piece_bytes(prev, t)
            prev = t
        return bytes(out)

    # ------------------------------------------------------------ file format
    def save(self, path):
        """llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 len, bytes."""
        with open(path, "wb") as f:
            f.write(struct.pack("<i", self.max_token_length))
            for piece, score in zip(self.pieces, self.scores):
                b = piece.encode("utf-8")
                f.write(struct.pack("<fi", score, len(b)))
                f.write(b)

    @classmethod
    def load(cls, path, vocab_size):
        with open(path, "rb") as f:
            data = f.read()
        (max_len,) = struct.unpack_from("<i", data, 0)
        off = 4
        pieces, scores = [], []
        for i in range(vocab_size):
            if off + 8 > len(data):
                raise ValueError("%s: truncated at token %d" % (path, i))
            score, n = struct.unpack_from("<fi", data, off)
            off += 8
            if n < 0 or n > max_len or off + n > len(data):
                raise ValueError("%s: token %d has bad length %d" % (path, i, n))
            pieces.append(data[off : off + n].decode("utf-8"))
            scores.append(score)
            off += n
        if off != len(data):
            raise ValueError("%s: %d trailing bytes after %d tokens" % (path, len(data) - off, vocab_size))
        tok = cls(pieces, scores)
        if tok.max_token_length != max_len:
            raise ValueError("%s: header max_token_length %d, longest piece %d" % (path, max_len, tok.max_token_length))
        return tok
