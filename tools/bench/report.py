#!/usr/bin/python3
"""Turn the raw outputs of tools/bench/run.sh into bench/results.json,
bench/summary.md and the PNG plots."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = {
    "card_vs_engine": 0.97,
    "e2e_1_vs_engine": 0.90,
    "e2e_8_vs_engine_8": 0.90,
    "syscalls_per_token": 0.05,
    "interrupts_per_token": 0.1,
    # Aggregate decode with the f16 or int8 KV cache against the f32 cache's
    # single context, same weights, same run (tokens per CPU second).
    "kv_8_vs_f32_1": 2.5,
    "kv_64_vs_f32_1": 2.0,
}


def kv_of(f):
    """The KV format of an engine result (runs before it was reported: f32)."""
    return f.get("kv_cache", "f32")


def load_json(path):
    with open(path) as f:
        return json.load(f)


def git_rev(src):
    try:
        return subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def revision(raw, src):
    """The revision run.sh measured (recorded before the run), else the tree's now."""
    try:
        with open(os.path.join(raw, "revision")) as f:
            return f.read().strip()
    except OSError:
        return git_rev(src)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    for k in ("engine", "card", "guest"):
        ap.add_argument(f"--load-{k}", type=float, required=True)
    ap.add_argument("--after-load", type=float, required=True)
    a = ap.parse_args()

    engine = flatten_engine(load_json(os.path.join(a.raw, "engine.json")))
    card = {f: load_json(os.path.join(a.raw, f"card-{f}.json")) for f in ("fp32", "int8")}
    guest = [json.loads(line) for line in open(os.path.join(a.raw, "guest.jsonl")) if line.strip()]

    # The end-to-end baseline: every fp32 measurement of the engine alone in
    # this run (each hc1-engine bench measures one context twice, "decode"
    # and "aggregate 1"; it runs before the card, before and after the
    # guest), the median of them.  One run alone moves by +-5% on this host.
    runs = [engine] + [flatten_engine(load_json(os.path.join(a.raw, f"engine-{w}.json")))
                       for w in ("before-guest", "after-guest")]
    kv = card["fp32"].get("kv_format", "f32")  # the card's, which the baseline shares
    runs_fp32 = [next(f for f in r["formats"] if f["format"] == "fp32" and kv_of(f) == kv)
                 for r in runs]
    samples_1 = [x for f in runs_fp32 for x in (f["decode_tok_s"], f["aggregate_tok_s"]["1"])]
    samples_8 = [f["aggregate_tok_s"]["8"] for f in runs_fp32]
    samples_64 = [f["aggregate_tok_s"]["64"] for f in runs_fp32]
    e1, e8, e64 = (statistics.median(x) for x in (samples_1, samples_8, samples_64))

    throughput = [g for g in guest if g.get("mode") == "throughput"]
    ttft = next((g for g in guest if g.get("mode") == "ttft"), None)
    sweep = [g for g in guest if "sweep" in g]
    calls = [json.loads(line) for line in open(os.path.join(a.raw, "calls.jsonl"))
             if line.strip()]
    if len(throughput) != 9 or ttft is None or len(calls) != 4:
        raise SystemExit("report: the guest run is incomplete; see the raw guest.log")

    e2e = []
    for t in throughput:
        base = {1: e1, 8: e8}.get(t["sessions"], e64)
        e2e.append(dict(t, engine_tok_s=base, ratio=t["tokens_per_s"] / base))

    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": revision(a.raw, os.path.dirname(os.path.abspath(a.out))),
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "load_avg_1min": {"engine": a.load_engine, "card": a.load_card,
                                      "guest": a.load_guest, "after": a.after_load}},
        "engine": engine,
        "engine_baseline": {"one_context": {"median": e1, "samples": samples_1},
                            "eight_contexts": {"median": e8, "samples": samples_8},
                            "sixty_four_contexts": {"median": e64, "samples": samples_64}},
        "card": card,
        "end_to_end": e2e,
        "ttft": ttft,
        "driver_calls": calls,
        "coalescing": sweep,
        "targets": TARGETS,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    plot_engine(engine, os.path.join(a.out, "engine.png"))
    plot_e2e(e2e, card, os.path.join(a.out, "layers.png"))
    plot_sweep(sweep, os.path.join(a.out, "coalescing.png"))
    write_summary(results, e2e, os.path.join(a.out, "summary.md"))


def flatten_engine(engine):
    """hc1-engine bench reports each rate as {"wall": .., "cpu": ..}; the
    ratios here are against wall-clock rates, like every other layer's."""
    def wall(v):
        return v["wall"] if isinstance(v, dict) else v

    engine["reference_decode_tok_s"] = wall(engine["reference_decode"])
    for f in engine["formats"]:
        f["decode_tok_s"] = wall(f["decode"])
        f["prefill_tok_s"] = wall(f["prefill"])
        f["aggregate_tok_s"] = {k: wall(v) for k, v in f["aggregate"].items()}
    return engine


def plot_engine(engine, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for f in engine["formats"]:
        agg = f["aggregate_tok_s"]
        xs = sorted(int(k) for k in agg)
        ax.plot(xs, [agg[str(x)] for x in xs], marker="o",
                label=f"{f['format']} weights, {kv_of(f)} KV cache")
    ax.axhline(engine["reference_decode_tok_s"], color="grey", ls="--",
               label="scalar reference, 1 context")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("contexts decoding together")
    ax.set_ylabel("tokens/s (1 engine thread)")
    ax.set_title(f"Engine alone: {engine['model']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_e2e(e2e, card, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels, values = [], []
    for fmt in ("fp32", "int8"):
        for r in card[fmt]["results"]:
            labels.append(f"card {fmt}\n{r['contexts']} ctx")
            values.append(r["ratio_median_round"])
    for r in e2e:
        labels.append(f"{r['path']}\n{r['sessions']} sess")
        values.append(r["ratio"])
    bars = ax.bar(range(len(values)), values,
                  color=["tab:green"] * (len(values) - len(e2e)) + ["tab:blue"] * len(e2e))
    for b, v in zip(bars, values):
        ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.2f}", ha="center", va="bottom",
                fontsize=8)
    ax.axhline(0.97, color="tab:green", ls=":", label="card target 0.97")
    ax.axhline(0.90, color="tab:blue", ls=":", label="end-to-end target 0.90")
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("tokens/s as a fraction of the engine alone\n(card: median of rounds)")
    ax.set_title("Card (qtest) and guest application vs engine alone")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(sweep, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for sessions, marker in ((1, "o"), (8, "s")):
        pts = [s for s in sweep if s["run"]["sessions"] == sessions]
        ax.scatter([p["run"]["interrupts_per_token"] for p in pts],
                   [p["run"]["inter_token_p99_ms"] for p in pts], marker=marker,
                   label=f"{sessions} session(s), mmap")
        for p in pts:
            c = p["sweep"]
            ax.annotate(f"{c['coalesce_tokens']}/{c['coalesce_usecs']}us",
                        (p["run"]["interrupts_per_token"], p["run"]["inter_token_p99_ms"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axvline(0.1, color="grey", ls=":", label="target 0.1 interrupts/token")
    ax.set_xscale("log")
    ax.set_xlabel("interrupts per token")
    ax.set_ylabel("p99 inter-token gap seen by the application (ms)")
    ax.set_title("Interrupt coalescing: tokens/usecs settings")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ok(v, target, higher=True):
    good = v >= target if higher else v <= target
    return "yes" if good else "**no**"


def write_summary(r, e2e, path):
    eng = r["engine"]
    fmt = {f["format"]: f for f in eng["formats"] if kv_of(f) == "f32"}
    L = []
    m = r["machine"]
    L.append("# HC1 benchmark summary\n")
    L.append(f"`make bench` on {r['date']} at {r['revision']}: {m['cpus']} CPUs, "
             f"1-minute load average {m['load_avg_1min']['engine']} / "
             f"{m['load_avg_1min']['card']} / {m['load_avg_1min']['guest']} at the engine / "
             "card / guest steps (the machine is shared; figures move with load). "
             f"Model {eng['model']} ({eng['params']} parameters), 1 engine thread, "
             "guest under TCG with 1 vCPU. Raw data: `results.json`.\n")
    L.append("## Headline\n")
    L.append("| layer | figure | value | target | met |")
    L.append("|---|---|---|---|---|")
    for f in ("fp32", "int8"):
        x = fmt[f]
        one = max(x["decode_tok_s"], x["aggregate_tok_s"]["1"])
        L.append(f"| engine alone ({f}) | decode, 1 context (better of 2 runs) | {one:,.0f} tok/s "
                 f"({one / eng['reference_decode_tok_s']:.2f}x reference; the other run "
                 f"{min(x['decode_tok_s'], x['aggregate_tok_s']['1']):,.0f}) | | |")
        L.append(f"| engine alone ({f}) | decode, 64 contexts aggregate | "
                 f"{x['aggregate_tok_s']['64']:,.0f} tok/s | | |")
        L.append(f"| engine alone ({f}) | prefill | {x['prefill_tok_s']:,.0f} tok/s | | |")
    # Many users at once: every KV format's aggregate at 1, 8 and 64 contexts
    # against the f32 cache's single context with the same weights.  The
    # targets (issue 21) are set for fp32 weights; with int8 weights the
    # yardstick, their own single context, is ~1.6x higher, and their ratios
    # are shown without one.
    for x in eng["formats"]:
        kv, vs = kv_of(x), x.get("aggregate_vs_f32_cache_1_context_cpu", {})
        for n, tgt in (("1", None), ("8", TARGETS["kv_8_vs_f32_1"]),
                       ("64", TARGETS["kv_64_vs_f32_1"])):
            if n not in x["aggregate_tok_s"] or n not in vs:
                continue
            cpu = x["aggregate"][n]["cpu"]
            target = tgt if tgt is not None and kv != "f32" and x["format"] == "fp32" else None
            L.append(f"| engine alone ({x['format']} weights, {kv} KV cache) | {n} context(s) "
                     f"aggregate | {x['aggregate_tok_s'][n]:,.0f} tok/s, {cpu:,.0f} tok/cpu-s = "
                     f"{vs[n]:.2f}x the f32 cache's 1 context (per CPU second) | "
                     f"{f'>= {target}x' if target else ''} | "
                     f"{ok(vs[n], target) if target else ''} |")
    b = r["engine_baseline"]
    for label, k in (("1 context", "one_context"), ("8 contexts aggregate", "eight_contexts"),
                     ("64 contexts aggregate", "sixty_four_contexts")):
        xs = b[k]["samples"]
        L.append(f"| engine alone (fp32) | end-to-end baseline: {label}, median of {len(xs)} "
                 f"runs around the guest run | {b[k]['median']:,.0f} tok/s "
                 f"(runs {min(xs):,.0f}-{max(xs):,.0f}) | | |")
    L.append(f"| reference (scalar fp32) | decode, 1 context | "
             f"{eng['reference_decode_tok_s']:,.0f} tok/s | | |")
    for f in ("fp32", "int8"):
        for c in r["card"][f]["results"]:
            L.append(f"| card alone (qtest, {f}) | {c['contexts']} context(s), into guest RAM | "
                     f"{c['card_tok_s']:,.0f} tok/s; vs engine: {c['ratio_median_round']:.3f} "
                     f"(median round), {c['ratio_best']:.3f} (best rounds); engine busy "
                     f"{c['card_engine_utilisation']:.3f} of the time (alone "
                     f"{c['engine_utilisation']:.3f}) | >= 0.97 | "
                     f"{ok(c['ratio_median_round'], 0.97)} |")
    for e in e2e:
        # The targets name 1 and 8 sessions; 64 is the card's full load.
        tgt = 0.90 if e["sessions"] in (1, 8) else None
        L.append(f"| guest app, {e['path']} | {e['sessions']} session(s) | "
                 f"{e['tokens_per_s']:,.0f} tok/s = {e['ratio']:.3f} of engine; engine busy "
                 f"{e['engine_utilisation']:.3f} of the time | "
                 f"{f'>= {tgt:.2f}' if tgt else ''} | {ok(e['ratio'], tgt) if tgt else ''} |")
    mm = [e for e in e2e if e["path"] == "mmap"]
    for e in mm:
        L.append(f"| guest app, mmap, {e['sessions']} session(s) | syscalls / token | "
                 f"{e['syscalls_per_token']:.4f} | <= 0.05 | "
                 f"{ok(e['syscalls_per_token'], 0.05, False)} |")
        L.append(f"| guest app, mmap, {e['sessions']} session(s) | interrupts / token | "
                 f"{e['interrupts_per_token']:.4f} | <= 0.1 | "
                 f"{ok(e['interrupts_per_token'], 0.1, False)} |")
    t = r["ttft"]
    L.append(f"| guest app | time to first token, {t['prompt_tokens']}-token prompt | "
             f"p50 {t['ttft_p50_ms']:.2f} ms, p99 {t['ttft_p99_ms']:.2f} ms | | |")
    L.append("")
    L.append("## End to end, every path\n")
    L.append("| path | sessions | tok/s | vs engine | engine busy | first token p50 ms "
             "| gap p50 ms | gap p99 ms | syscalls/tok | interrupts/tok |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for e in e2e:
        L.append(f"| {e['path']} | {e['sessions']} | {e['tokens_per_s']:,.0f} | "
                 f"{e['ratio']:.3f} | {e['engine_utilisation']:.3f} | "
                 f"{e['first_token_p50_ms']:.3f} | {e['inter_token_p50_ms']:.3f} | "
                 f"{e['inter_token_p99_ms']:.3f} | {e['syscalls_per_token']:.4f} | "
                 f"{e['interrupts_per_token']:.4f} |")
    L.append("")
    L.append("## The driver's cost per call\n")
    L.append("read() of one token and WAIT for tokens already there, on finished "
             "generations (the engine idle), every session calling from its own thread, "
             "in a guest of two vCPUs.\n")
    L.append("| call | sessions | calls | calls/s | p50 us | p99 us | max us |")
    L.append("|---|---|---|---|---|---|---|")
    for c in r["driver_calls"]:
        L.append(f"| {c['path']} | {c['sessions']} | {c['calls']:,} | {c['calls_per_s']:,.0f} | "
                 f"{c['call_p50_us']:.1f} | {c['call_p99_us']:.1f} | {c['call_max_us']:.0f} |")
    L.append("")
    L.append("## Coalescing (mmap path)\n")
    L.append("hc1.ko reloaded with each setting; the mmap path at full rate. \"targets\": "
             "syscalls/token <= 0.05 and interrupts/token <= 0.1.\n")
    L.append("| coalesce-tokens | coalesce-usecs | sessions | tok/s | interrupts/tok | "
             "syscalls/tok | gap p99 ms | targets |")
    L.append("|---|---|---|---|---|---|---|---|")
    for s in r["coalescing"]:
        c, x = s["sweep"], s["run"]
        met = x["syscalls_per_token"] <= 0.05 and x["interrupts_per_token"] <= 0.1
        L.append(f"| {c['coalesce_tokens']} | {c['coalesce_usecs']} | {x['sessions']} | "
                 f"{x['tokens_per_s']:,.0f} | {x['interrupts_per_token']:.4f} | "
                 f"{x['syscalls_per_token']:.4f} | {x['inter_token_p99_ms']:.3f} | "
                 f"{'yes' if met else 'no'} |")
    L.append("")
    L.append("Plots: `engine.png` (engine aggregate vs contexts), `layers.png` (card and guest "
             "vs engine), `coalescing.png` (interrupts per token vs p99 gap). "
             "What limits each figure: `docs/performance.md`.\n")
    with open(path, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
