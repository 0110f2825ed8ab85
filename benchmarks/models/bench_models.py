"""Training-step time and peak memory of TransformerLM, ReformerLM (each switch on and off) and reformer_pytorch's
ReformerLM, against depth and against length, in one run. Writes CSV, a markdown table and a JSON manifest to
benchmarks/models/results/<device>/.

    python benchmarks/models/bench_models.py --device cpu                 # ~12 minutes on 2 cores
    python benchmarks/models/bench_models.py --device cuda --d-model 512  # on a GPU

Run it in the benchmark environment (.venv-bench: torch + einops + reformer_pytorch + this package)."""
from __future__ import annotations
import argparse, csv, dataclasses, datetime, gc, json, os, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))                                        # this checkout's reformer_repro
from reformer_repro.core import atomic_write
from reformer_repro.runs import atomic_write_text, git_info, hardware, package_versions   # the records every run keeps
from reformer_repro.models import ReformerConfig, ReformerLM, TransformerLM
from reformer_repro.reversible import peak_memory, saved_tensor_bytes

# (name, model class, config changes): ReformerLM with all switches on, then each switch off in turn
OURS = [
    ('TransformerLM', TransformerLM, 'baseline'),
    ('ReformerLM', ReformerLM, {}),
    ('ReformerLM -reversible', ReformerLM, dict(reversible=False)),
    ('ReformerLM -ff_chunks', ReformerLM, dict(ff_chunks=1)),
    ('ReformerLM -lsh_dedup', ReformerLM, dict(lsh_dedup=False)),   # reformer_pytorch's default: no Appendix A correction
    ('ReformerLM -lsh (full, shared QK)', ReformerLM, dict(attn='full')),
    ('ReformerLM -lsh -shared_qk', ReformerLM, dict(attn='full', shared_qk=False)),
]
PEER = 'reformer_pytorch ReformerLM'


def our_model(cls, changes, a, depth, n, d_ff, ff_chunks):
    cfg = ReformerConfig(vocab_size=a.vocab, d_model=a.d_model, n_heads=a.heads, d_ff=d_ff, n_layers=depth,
                         max_seq_len=n, attn='lsh', shared_qk=True, causal=True, reversible=True, ff_chunks=ff_chunks,
                         n_rounds=a.rounds, chunk_size=a.bucket, n_buckets=max(2, n // a.bucket), positions='absolute')
    cfg = cfg.baseline() if changes == 'baseline' else dataclasses.replace(cfg, **changes)
    return cls(cfg)


def peer_model(a, depth, n, d_ff, ff_chunks):
    from reformer_pytorch import ReformerLM as PeerLM                  # reversible unless reverse_thres > n
    return PeerLM(num_tokens=a.vocab, dim=a.d_model, depth=depth, max_seq_len=n, heads=a.heads, dim_head=a.d_model // a.heads,
                  bucket_size=a.bucket, n_hashes=a.rounds, ff_chunks=ff_chunks, causal=True, ff_mult=d_ff // a.d_model,
                  absolute_position_emb=True)


def measure(model, a, b, n, dev):
    """Seconds per training step (forward, backward, Adam; fastest of `a.steps`), peak memory of forward + backward
    (gradients included), gradient bytes, and bytes saved for backward (activations)."""
    model = model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randint(0, a.vocab, (b, n), device=dev)
    def loss(): return F.cross_entropy(model(x).flatten(0, 1).float(), x.flatten())
    def step():
        opt.zero_grad(set_to_none=True); loss().backward(); opt.step()
    step()                                                            # warm-up; Adam's state exists from here on
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    times = []
    for _ in range(a.steps):                                          # the fastest step: least disturbed by other load
        sync(); t = time.perf_counter(); step(); sync(); times.append(time.perf_counter() - t)
    opt.zero_grad(set_to_none=True)
    peak = peak_memory(lambda: loss().backward(), dev)[0]              # gradients are allocated inside
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    opt.zero_grad(set_to_none=True)
    saved = saved_tensor_bytes(loss, exclude=model.parameters())[0]
    return min(times), peak, grads, saved


def run(a):
    dev = torch.device(a.device)
    torch.manual_seed(0)
    if dev.type == 'cpu': torch.set_num_threads(a.threads or torch.get_num_threads())
    jobs = [('depth', d, a.length, a.batch, 4 * a.d_model, a.ff_chunks) for d in a.depths] + \
           [('length', a.length_depth, n, max(1, a.tokens // n), 4 * a.d_model, a.ff_chunks) for n in a.lengths] + \
           [('ff', a.length_depth, a.ff_length, max(1, a.tokens // a.ff_length), a.ff_width, c) for c in a.ff_sweep]
    variants = [v for v in OURS if not a.only or v[0] in a.only] + ([(PEER, None, None)] if a.peer else [])
    rows = []
    for sweep, depth, n, b, d_ff, ff_chunks in jobs:
        for name, cls, changes in (variants if sweep != 'ff' else [v for v in variants if v[0] in ('ReformerLM', PEER)]):
            gc.collect()
            if dev.type == 'cuda': torch.cuda.empty_cache()
            model = peer_model(a, depth, n, d_ff, ff_chunks) if cls is None else our_model(cls, changes, a, depth, n, d_ff, ff_chunks)
            try: dt, peak, grads, saved = measure(model, a, b, n, dev)
            except Exception as e:                                    # e.g. out of memory: record, keep going
                print(f'{name} depth={depth} n={n}: {type(e).__name__}: {e}', file=sys.stderr); dt = peak = grads = saved = float('nan')
            row = dict(sweep=sweep, model=name, depth=depth, length=n, batch=b, d_ff=d_ff, ff_chunks=ff_chunks, step_s=round(dt, 4),
                       tokens_per_s=round(b * n / dt, 1), peak_MiB=round(peak / 2**20, 2), grads_MiB=round(grads / 2**20, 2),
                       peak_minus_grads_MiB=round((peak - grads) / 2**20, 2), saved_MiB=round(saved / 2**20, 2))
            rows.append(row); print(row, flush=True)
            del model
    return rows


def table(rows, sweep, key):
    "Markdown: one row per model, one column per depth or length, cells 'step s / peak MiB'."
    rs = [r for r in rows if r['sweep'] == sweep]
    cols = sorted({r[key] for r in rs}); models = list(dict.fromkeys(r['model'] for r in rs))
    if not rs: return '(not run)'
    out = [f"| model \\ {key} | " + ' | '.join(map(str, cols)) + ' |', '|---' * (len(cols) + 1) + '|']
    for m in models:
        cell = {r[key]: f"{r['step_s']:.2f} s, {r['tokens_per_s']:.0f} tok/s, {r['peak_MiB']:.1f} MiB ({r['peak_minus_grads_MiB']:.1f})"
                for r in rs if r['model'] == m}
        out.append(f'| {m} | ' + ' | '.join(cell.get(c, '') for c in cols) + ' |')
    return '\n'.join(out)


def targets(rows, a):
    "The issue's targets, checked on this run's numbers."
    dep = {(r['model'], r['depth']): r for r in rows if r['sweep'] == 'depth'}
    lo, hi = min(a.depths, default=None), max(a.depths, default=None)
    res = {}
    for m in ('ReformerLM', 'TransformerLM', PEER):
        if (m, lo) not in dep or (m, hi) not in dep: continue
        for col, what in (('peak_MiB', 'peak training memory (gradients included)'), ('peak_minus_grads_MiB', 'peak memory minus gradients'),
                          ('saved_MiB', 'activations saved for backward')):
            ratio = dep[m, hi][col] / dep[m, lo][col]
            res[f'{m} {what}, {hi} layers / {lo} layers' + (' <= 1.3' if m == 'ReformerLM' else '')] = (round(ratio, 3), ratio <= 1.3 if m == 'ReformerLM' else None)
    ff = {(r['model'], r['ff_chunks']): r for r in rows if r['sweep'] == 'ff'}   # section 3: chunks divide the feed-forward's memory
    if a.ff_sweep and ('ReformerLM', 1) in ff and ('ReformerLM', max(a.ff_sweep)) in ff:
        ratio = ff['ReformerLM', max(a.ff_sweep)]['peak_minus_grads_MiB'] / ff['ReformerLM', 1]['peak_minus_grads_MiB']
        res[f'ReformerLM peak memory minus gradients, d_ff {a.ff_width}, {max(a.ff_sweep)} feed-forward chunks / 1 chunk < 1'] = (round(ratio, 3), ratio < 1)
    for r in rows:                                                    # the performance issue: >= 1.5x the peer's throughput, peak memory no higher
        if r['model'] not in ('ReformerLM', 'ReformerLM -lsh_dedup') or r['sweep'] == 'ff': continue
        p = [q for q in rows if q['sweep'] == r['sweep'] and q['model'] == PEER and q['depth'] == r['depth'] and q['length'] == r['length']]
        if not p: continue
        at = f"{r['sweep']} sweep, depth {r['depth']}, length {r['length']}"
        ratio = r['tokens_per_s'] / p[0]['tokens_per_s']
        res[f"{r['model']} tokens/s vs reformer_pytorch, {at} (>= 1.5)"] = (round(ratio, 3), ratio >= 1.5)
        res[f"{r['model']} peak MiB vs reformer_pytorch, {at} (<= 1)"] = (round(r['peak_MiB'] / p[0]['peak_MiB'], 3), r['peak_MiB'] <= p[0]['peak_MiB'])
    return res


def manifest(a, dev, code):
    "Arguments, versions (peers included), hardware and code of the run, from the project's run records; the flat keys of earlier results are kept."
    pv, hw = package_versions(), hardware()
    info = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), args=vars(a),
                python=pv['python'], torch=pv['torch'], einops=pv['einops'], platform=hw['platform'], processor=hw['processor'],
                cpu_count=hw['cpu_count'], torch_threads=hw['torch_threads'], reformer_pytorch=pv.get('reformer_pytorch'),
                reformer_repro=pv['reformer_repro'], packages=pv, hardware=hw, git=code)
    if dev.type == 'cuda': info['gpu'] = torch.cuda.get_device_name(dev)
    info['memory_method'] = ('CUDA allocator peak (max_memory_allocated) during one training step' if dev.type == 'cuda' else
                             'torch.profiler CPU allocation/free events replayed in time order, one training step (weights excluded, Adam state included)')
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    p.add_argument('--depths', type=int, nargs='*', default=[2, 6, 12], help='layers, for the depth sweep (none: skip it)')
    p.add_argument('--length', type=int, default=1024, help='sequence length of the depth sweep')
    p.add_argument('--batch', type=int, default=4, help='batch size of the depth sweep')
    p.add_argument('--lengths', type=int, nargs='*', default=[512, 1024, 2048, 4096], help='lengths, for the length sweep (none: skip it)')
    p.add_argument('--length-depth', type=int, default=2, help='layers in the length sweep')
    p.add_argument('--tokens', type=int, default=4096, help='tokens per batch in the length sweep (batch = tokens // length)')
    p.add_argument('--d-model', type=int, default=128); p.add_argument('--heads', type=int, default=4)
    p.add_argument('--vocab', type=int, default=256); p.add_argument('--bucket', type=int, default=64, help='tokens per LSH chunk, both libraries')
    p.add_argument('--rounds', type=int, default=2, help='hash rounds'); p.add_argument('--ff-chunks', type=int, default=4)
    p.add_argument('--steps', type=int, default=2, help='timed steps per setting, after one warm-up step; the fastest is reported')
    p.add_argument('--threads', type=int, default=0, help='CPU threads (0: torch default)')
    p.add_argument('--ff-sweep', type=int, nargs='*', default=[1, 2, 4, 8, 16], help='feed-forward chunks, for the feed-forward sweep (none: skip it)')
    p.add_argument('--ff-width', type=int, default=4096, help='d_ff of the feed-forward sweep (the authors\' enwik8 value)')
    p.add_argument('--ff-length', type=int, default=4096, help='sequence length of the feed-forward sweep (depth --length-depth, batch --tokens // length)')
    p.add_argument('--only', nargs='*', default=None, help='our variants to run (default all)')
    p.add_argument('--no-peer', dest='peer', action='store_false', help='skip reformer_pytorch')
    p.add_argument('--out', default=None, help='results folder (default benchmarks/models/results/<device>)')
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    out = Path(a.out or Path(__file__).parent/'results'/dev.type); out.mkdir(parents=True, exist_ok=True)
    t0, load0, code = time.time(), tuple(round(v, 2) for v in os.getloadavg()), git_info(ROOT)  # the code before any result is written
    rows = run(a)
    info = manifest(a, dev, code); info['wall_s'] = round(time.time() - t0, 1); info['targets'] = targets(rows, a)
    info["load_average_start_end"] = [load0, tuple(round(v, 2) for v in os.getloadavg())]        # other processes on the machine skew the times
    with atomic_write(out/'results.csv') as tmp, open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    md = [f"# Models benchmark ({dev.type}, {info['date']})", '',
          f"d_model {a.d_model}, {a.heads} heads, d_ff {4 * a.d_model}, vocab {a.vocab}, LSH chunk {a.bucket}, {a.rounds} rounds, "
          f"ff_chunks {a.ff_chunks} (depth and length sweeps), causal; training step = forward + backward + Adam. Cells: seconds per step (fastest of the timed steps), tokens per second, peak MiB of forward + backward (in brackets: minus the gradients).", '',
          f"Machine: {info['hardware']['cpu'] or info['processor'] or info['platform']}, {info['cpu_count']} CPUs, torch {info['torch']} ({info['torch_threads']} threads), "
          f"reformer_pytorch {info['reformer_pytorch']}; load average (1, 5, 15 min) {info['load_average_start_end'][0]} at the start and "
          f"{info['load_average_start_end'][1]} at the end: other processes shared the machine when the load exceeds the thread count.", '',
          f"## Depth (length {a.length}, batch {a.batch})", '', table(rows, 'depth', 'depth'), '',
          f"## Length ({a.length_depth} layers, {a.tokens} tokens per batch)", '', table(rows, 'length', 'length'), '',
          f"## Feed-forward chunks ({a.length_depth} layers, length {a.ff_length}, batch {max(1, a.tokens // a.ff_length)}, d_ff {a.ff_width}; "
          f"one (b, n, d_ff) float32 tensor is {max(1, a.tokens // a.ff_length) * a.ff_length * a.ff_width * 4 / 2**20:.0f} MiB)", '',
          table(rows, 'ff', 'ff_chunks'), '',
          '## Targets', ''] + [f"- {k}: {v[0]}" + ('' if v[1] is None else f" ({'met' if v[1] else 'NOT met'})") for k, v in info['targets'].items()]
    atomic_write_text('\n'.join(md) + '\n', out/'results.md')
    atomic_write_text(json.dumps(info, indent=2, default=str), out/'manifest.json')
    print('\n'.join(md)); print(f'wrote {out}')


if __name__ == '__main__': main()
