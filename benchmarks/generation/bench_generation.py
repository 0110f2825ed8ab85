"""Cached generation against full recomputation, for TransformerLM, ReformerLM (LSH attention) and ReformerLM with the
authors' layer pattern (local and LSH layers alternating): greedy generation of
`--new` tokens after a random `--prompt`-token prompt, timed once with a decode cache (`generate(use_cache=True)`) and once
recomputing the whole context at every step (`use_cache=False`), plus the cache's memory. Writes CSV, a markdown
table and a JSON manifest to benchmarks/generation/results/<device>/.

    python benchmarks/generation/bench_generation.py --device cpu                  # a few minutes, 1 thread
    python benchmarks/generation/bench_generation.py --device cuda --d-model 512   # on a GPU

The goal it checks: 1,024 tokens after a 1,024-token prompt at least 10x faster than recomputation; cache memory per token."""
from __future__ import annotations
import argparse, csv, dataclasses, datetime, gc, json, os, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))                                        # this checkout's reformer_repro
from reformer_repro.core import atomic_write
from reformer_repro.runs import atomic_write_text, git_info, hardware, package_versions   # the records every run keeps
from reformer_repro.models import ReformerConfig, ReformerLM, TransformerLM

MODELS = dict(transformer=('TransformerLM', TransformerLM), reformer=('ReformerLM', ReformerLM),
              local=('ReformerLM, local + LSH', ReformerLM))                  # layers local, LSH, local, ... (own keys in local layers)
TARGET = 10                                                           # the goal's speed-up


def build(key, a, dev):
    "The model `key` at the benchmark's size, seeded weights, in eval mode on `dev`."
    cfg = ReformerConfig(vocab_size=a.vocab, d_model=a.d_model, n_heads=a.heads, d_ff=4 * a.d_model, n_layers=a.layers,
                         max_seq_len=a.prompt + a.new, attn='lsh', shared_qk=True, causal=True, n_rounds=a.rounds,
                         chunk_size=a.chunk, positions=a.positions, seed=a.seed)
    name, cls = MODELS[key]
    if key == 'local': cfg = dataclasses.replace(cfg, attn=('local', 'lsh'), shared_qk=False)
    return name, cls(cfg.baseline() if cls is TransformerLM else cfg).to(dev).eval()


def timed(fn, dev, repeats):
    "The fastest of `repeats` calls of `fn` in seconds, and its last result."
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    times = []
    for _ in range(repeats):
        sync(); t = time.perf_counter(); out = fn(); sync(); times.append(time.perf_counter() - t)
    return min(times), out


def cache_bytes(model, prompt, new):
    "A session of prompt + `new` positions: bytes each position adds per example, and bytes allocated at the end, all layers."
    cache = model.new_cache(prompt.shape[1] + new)
    model.decode(prompt, cache)
    model.decode(prompt[:, :1].expand(-1, new), cache)                # `new` more positions in one pass (their tokens do not matter)
    return cache.bytes_per_token(), cache.nbytes


def measure(model, prompt, a, dev):
    "Seconds with and without the cache, and the two outputs' new tokens."
    gen = lambda cached, n: model.generate(prompt, n, temperature=0, use_cache=cached, seed=a.seed)
    gen(True, 8); gen(False, 8)                                       # warm-up: first-call overheads out of the timings
    t_cached, out_cached = timed(lambda: gen(True, a.new), dev, a.repeats)
    t_full, out_full = timed(lambda: gen(False, a.new), dev, a.repeats)
    return t_cached, t_full, out_cached[:, a.prompt:], out_full[:, a.prompt:]


def first_difference(x, y):
    "Index of the first new token where the outputs differ in any example, or None."
    diff = (x != y).any(0).nonzero()
    return int(diff[0]) if len(diff) else None


def run(a):
    dev = torch.device(a.device)
    if dev.type == 'cpu': torch.set_num_threads(a.threads or torch.get_num_threads())
    g = torch.Generator().manual_seed(a.seed)
    prompt = torch.randint(0, a.vocab, (a.batch, a.prompt), generator=g).to(dev)
    rows = []
    for key in a.models:
        gc.collect()
        if dev.type == 'cuda': torch.cuda.empty_cache()
        name, model = build(key, a, dev)
        t_cached, t_full, new_cached, new_full = measure(model, prompt, a, dev)
        bpt, nbytes = cache_bytes(model, prompt, a.new)
        row = dict(model=name, prompt=a.prompt, new=a.new, batch=a.batch, cached_s=round(t_cached, 3), recompute_s=round(t_full, 3),
                   cached_tok_per_s=round(a.batch * a.new / t_cached, 1), recompute_tok_per_s=round(a.batch * a.new / t_full, 1),
                   speedup=round(t_full / t_cached, 2), identical=bool(torch.equal(new_cached, new_full)),
                   equal_token_fraction=round((new_cached == new_full).float().mean().item(), 4),
                   first_difference=first_difference(new_cached, new_full), cache_bytes_per_token=bpt,
                   cache_total_MiB=round(nbytes / 2**20, 3))
        rows.append(row); print(row, flush=True)
        del model
    return rows


def targets(rows):
    "The goal, checked on this run's numbers: the speed-up, and TransformerLM's cached output equal to recomputation."
    res = {}
    for r in rows:
        res[f"{r['model']} speed-up, cached over recomputation (>= {TARGET})"] = (r['speedup'], r['speedup'] >= TARGET)
        if r['model'] == 'TransformerLM':
            res['TransformerLM cached output identical to recomputation'] = (r['identical'], r['identical'])
    return res


def table(rows):
    "Markdown: one row per model."
    cols = ['model', 'cached s', 'recompute s', 'cached tok/s', 'recompute tok/s', 'speed-up', 'identical', 'equal tokens',
            'first difference', 'cache bytes/token', 'cache MiB (prompt + new)']
    out = ['| ' + ' | '.join(cols) + ' |', '|---' * len(cols) + '|']
    for r in rows:
        cells = [r['model'], f"{r['cached_s']:.2f}", f"{r['recompute_s']:.2f}", f"{r['cached_tok_per_s']:.1f}", f"{r['recompute_tok_per_s']:.1f}",
                 f"{r['speedup']:.1f}x", 'yes' if r['identical'] else 'no', f"{100 * r['equal_token_fraction']:.1f}%",
                 '-' if r['first_difference'] is None else str(r['first_difference']), str(r['cache_bytes_per_token']), f"{r['cache_total_MiB']:.2f}"]
        out.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(out)


def manifest(a, dev, code):
    "Command, arguments, versions, hardware and code of the run, from the project's run records."
    pv, hw = package_versions(), hardware()
    info = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                command=' '.join([Path(sys.executable).name, *sys.argv]), args=vars(a), python=pv['python'], torch=pv['torch'],
                platform=hw['platform'], processor=hw['processor'], cpu_count=hw['cpu_count'], torch_threads=hw['torch_threads'],
                reformer_repro=pv['reformer_repro'], packages=pv, hardware=hw, git=code)
    if dev.type == 'cuda': info['gpu'] = torch.cuda.get_device_name(dev)
    info['timing_method'] = ('time.perf_counter around model.generate (greedy, fixed hashing seed), fastest of --repeats, '
                             'after an 8-token warm-up of each path')
    return info


def write(rows, info, a, out, dev):
    "results.csv, results.md and manifest.json, each written atomically; returns the markdown."
    with atomic_write(out/'results.csv') as tmp, open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    md = [f"# Generation benchmark ({dev.type}, {info['date']})", '',
          f"{a.new} new tokens after a {a.prompt}-token random prompt, batch {a.batch}, greedy. d_model {a.d_model}, {a.heads} heads, "
          f"d_ff {4 * a.d_model}, {a.layers} layers, vocab {a.vocab}, {a.positions} positions, max_seq_len {a.prompt + a.new}; "
          f"ReformerLM: LSH, chunk {a.chunk}, {a.rounds} rounds. Cached: `generate(use_cache=True)`; recompute: `generate(use_cache=False)`, "
          f"the whole context at every step. Times are the fastest of {a.repeats}; speed-up = recompute s / cached s. "
          "`equal tokens`: share of the new tokens where both paths agree (ReformerLM's cached path follows the bucket rule, "
          "so it may differ from recomputation). Cache bytes per token: what each further position adds per example, all layers "
          "(`DecodeCache.bytes_per_token`; a local layer stores at most twice its window, so it adds none once that is full); cache MiB: "
          "what a session of prompt + new positions has allocated at its end, all examples (`DecodeCache.nbytes`).", '',
          f"Machine: {info['hardware']['cpu'] or info['processor'] or info['platform']}, {info['cpu_count']} CPUs, torch {info['torch']} "
          f"(torch threads: {info['torch_threads']}); load average (1, 5, 15 min) {info['load_average_start_end'][0]} at the start and "
          f"{info['load_average_start_end'][1]} at the end: other processes shared the machine when the load exceeds the thread count.", '',
          table(rows), '', '## Targets', ''] + \
         [f"- {k}: {v[0]} ({'met' if v[1] else 'NOT met'})" for k, v in info['targets'].items()]
    atomic_write_text('\n'.join(md) + '\n', out/'results.md')
    atomic_write_text(json.dumps(info, indent=2, default=str), out/'manifest.json')
    return '\n'.join(md)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    p.add_argument('--prompt', type=int, default=1024, help='prompt tokens'); p.add_argument('--new', type=int, default=1024, help='tokens to generate')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--d-model', type=int, default=128); p.add_argument('--heads', type=int, default=4)
    p.add_argument('--layers', type=int, default=2); p.add_argument('--vocab', type=int, default=256)
    p.add_argument('--rounds', type=int, default=4, help='LSH hash rounds'); p.add_argument('--chunk', type=int, default=64, help='LSH chunk size')
    p.add_argument('--positions', default='axial', help="'axial', 'absolute', 'sinusoidal' or 'none'")
    p.add_argument('--seed', type=int, default=0, help='weights, prompt and hashing seed')
    p.add_argument('--models', type=lambda s: s.split(','), default=list(MODELS), help='comma-separated: transformer,reformer,local')
    p.add_argument('--repeats', type=int, default=1, help='timed runs of each path; the fastest is reported')
    p.add_argument('--threads', type=int, default=1, help='CPU threads (0: torch default); 1 keeps a shared machine from thrashing')
    p.add_argument('--out', default=None, help='results folder (default benchmarks/generation/results/<device>)')
    a = p.parse_args(argv)
    if bad := [m for m in a.models if m not in MODELS]: p.error(f"unknown models {bad}; choose from {list(MODELS)}")
    dev = torch.device(a.device)
    out = Path(a.out or Path(__file__).parent/'results'/dev.type); out.mkdir(parents=True, exist_ok=True)
    t0, load0, code = time.time(), tuple(round(v, 2) for v in os.getloadavg()), git_info(ROOT)  # the code before any result is written
    rows = run(a)
    info = manifest(a, dev, code); info['wall_s'] = round(time.time() - t0, 1); info['targets'] = targets(rows)
    info['load_average_start_end'] = [load0, tuple(round(v, 2) for v in os.getloadavg())]   # other processes on the machine skew the times
    print(write(rows, info, a, out, dev)); print(f'wrote {out}')


if __name__ == '__main__': main()
