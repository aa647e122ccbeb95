#!/usr/bin/python3
"""Train HC1's default model: a small llama on the King James Bible.

Builds the corpus from Debian's bible-kjv packages, learns a BPE
vocabulary, trains a llama-architecture transformer on one CPU thread and
writes a llama2.c legacy checkpoint, a llama2.c tokenizer.bin and a JSON
summary of the run.  See docs/model.md for the command that made the
committed model.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time

# One thread everywhere: the machine is shared.  OpenBLAS reads this at load.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hc1_model  # noqa: E402
import hc1_tokenizer  # noqa: E402
import kjv_corpus  # noqa: E402

PACKAGES = ("bible-kjv", "bible-kjv-text", "python3-torch", "python3-numpy", "libopenblas0-serial")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default="models", help="where the .bin files and summary go")
    p.add_argument("--name", default="hc1-kjv", help="file stem: NAME.bin, NAME-tok.bin, NAME.json")
    p.add_argument("--vocab-size", type=int, default=512)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--n-heads", type=int, default=8)
    p.add_argument("--n-kv-heads", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=2000, help="optimizer steps; the LR schedule spans them")
    p.add_argument("--time-budget", type=float, default=1200.0,
                   help="seconds of training after which to stop early and export anyway")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--val-every", type=int, default=20,
                   help="hold out every Nth chapter (starting at the N/2th) for validation")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--save-pt", metavar="PATH", help="also save the PyTorch state dict (for checking exporters)")
    return p.parse_args()


def package_versions():
    out = {}
    for pkg in PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        out[pkg] = r.stdout if r.returncode == 0 else None
    return out


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.min_lr + 0.5 * (1.0 + math.cos(math.pi * frac)) * (args.lr - args.min_lr)


def windows(stream, seq_len):
    """Non-overlapping (x, y) windows covering the stream, for evaluation."""
    n = (len(stream) - 1) // seq_len
    idx = torch.arange(n) * seq_len
    x = torch.stack([stream[i : i + seq_len] for i in idx])
    y = torch.stack([stream[i + 1 : i + 1 + seq_len] for i in idx])
    return x, y


@torch.no_grad()
def mean_loss(model, x, y, batch=16):
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(x), batch):
        _, loss = model(x[i : i + batch], y[i : i + batch])
        n = y[i : i + batch].numel()
        total += loss.item() * n
        count += n
    model.train()
    return total / count


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()

    chapters = kjv_corpus.read_chapters()
    half = args.val_every // 2
    train_docs = [t for i, (_, t) in enumerate(chapters) if i % args.val_every != half]
    val_docs = [t for i, (_, t) in enumerate(chapters) if i % args.val_every == half]
    # The vocabulary is learned from the training chapters only, each with
    # the dummy-prefix space that encode() will give it.
    tok = hc1_tokenizer.Tokenizer.train("".join(" " + t for t in train_docs), args.vocab_size)
    if tok.vocab_size != args.vocab_size:
        raise SystemExit("tokenizer: corpus only supports %d tokens" % tok.vocab_size)

    def stream(docs):
        ids = []
        for d in docs:
            ids += tok.encode(d, bos=True)
        return torch.tensor(ids, dtype=torch.long)

    train_stream, val_stream = stream(train_docs), stream(val_docs)
    n_chars = sum(len(d) for d in train_docs)
    print("corpus: %d train chapters, %d tokens (%.2f chars/token); %d val chapters, %d tokens"
          % (len(train_docs), len(train_stream), n_chars / len(train_stream), len(val_docs), len(val_stream)),
          flush=True)

    margs = hc1_model.ModelArgs(dim=args.dim, n_layers=args.n_layers, n_heads=args.n_heads,
                                n_kv_heads=args.n_kv_heads, vocab_size=tok.vocab_size, max_seq_len=args.seq_len)
    model = hc1_model.Transformer(margs)
    print("model: %s, %d parameters" % (margs, model.n_params()), flush=True)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    val_x, val_y = windows(val_stream, args.seq_len)
    # A fixed slice of the validation windows for the periodic estimate; the
    # final figures use all of them, and as many training windows.
    probe = torch.randperm(len(val_x), generator=torch.Generator().manual_seed(args.seed))[:32]
    train_x, train_y = windows(train_stream, args.seq_len)
    train_sel = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed + 1))[: len(val_x)]

    gen = torch.Generator().manual_seed(args.seed)
    history = []
    t_train = time.time()
    step = 0
    stopped_early = False
    while step < args.steps:
        if time.time() - t_train > args.time_budget:
            stopped_early = True
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        starts = torch.randint(len(train_stream) - args.seq_len - 1, (args.batch_size,), generator=gen)
        x = torch.stack([train_stream[s : s + args.seq_len] for s in starts])
        y = torch.stack([train_stream[s + 1 : s + 1 + args.seq_len] for s in starts])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0 or step == 1:
            print("step %5d  loss %.4f  lr %.2e  %.0fs" % (step, loss.item(), lr_at(step - 1, args),
                                                          time.time() - t_train), flush=True)
        if step % args.eval_every == 0:
            v = mean_loss(model, val_x[probe], val_y[probe])
            history.append({"step": step, "train_batch_loss": loss.item(), "val_probe_loss": v,
                            "seconds": time.time() - t_train})
            print("step %5d  val(probe) %.4f" % (step, v), flush=True)
    train_seconds = time.time() - t_train

    train_loss = mean_loss(model, train_x[train_sel], train_y[train_sel])
    val_loss = mean_loss(model, val_x, val_y)
    print("final: %d steps in %.0fs, train loss %.4f, val loss %.4f" % (step, train_seconds, train_loss, val_loss),
          flush=True)

    os.makedirs(args.out_dir, exist_ok=True)
    model_path = os.path.join(args.out_dir, args.name + ".bin")
    tok_path = os.path.join(args.out_dir, args.name + "-tok.bin")
    hc1_model.export_legacy(model, model_path)
    tok.save(tok_path)
    if args.save_pt:
        torch.save({"args": margs.__dict__, "state_dict": model.state_dict()}, args.save_pt)
    summary = {
        "name": args.name,
        "args": vars(args),
        "model": {**margs.__dict__, "n_params": model.n_params()},
        "corpus": {"source": "King James Bible via `bible -l1000000 %s`" % kjv_corpus.FULL_RANGE,
                   "chapters_train": len(train_docs), "chapters_val": len(val_docs),
                   "tokens_train": len(train_stream), "tokens_val": len(val_stream)},
        "steps": step,
        "stopped_early_by_time_budget": stopped_early,
        "tokens_seen": step * args.batch_size * args.seq_len,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t_start, 1),
        "train_loss": round(train_loss, 4),
        "val_loss": round(val_loss, 4),
        "history": history,
        "packages": package_versions(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sha256": {os.path.basename(model_path): sha256(model_path), os.path.basename(tok_path): sha256(tok_path)},
    }
    with open(os.path.join(args.out_dir, args.name + ".json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print("wrote %s (%d bytes), %s (%d bytes)" % (model_path, os.path.getsize(model_path), tok_path,
                                                  os.path.getsize(tok_path)), flush=True)


if __name__ == "__main__":
    main()
