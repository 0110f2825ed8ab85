"""Time forward + backward and peak memory of one self-attention layer, the paper's Figure 5 protocol.

One run compares, at every sequence length and a fixed number of tokens per batch:
full attention (torch SDPA), this project's LSH attention with 1, 2, 4 and 8 rounds, reformer_pytorch's
`LSHSelfAttention` and Hugging Face's `ReformerAttention` (attn_layers=["lsh"]) at matching settings.
Every configuration runs in its own forked child process, so memory is measured from a clean slate and a
crash or time-out of one configuration does not stop the others. See README.md for what is measured.
"""
from __future__ import annotations
import argparse, ctypes, datetime, gc, json, multiprocessing as mp, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))   # use this checkout's reformer_repro
from reformer_repro.core import atomic_write
from reformer_repro.runs import atomic_write_text, git_info, hardware, package_versions   # the records every run keeps

# ---------------------------------------------------------------- the layers under test
class SDPALocal(torch.nn.Module):
    "A baseline for `LocalAttention`: torch's SDPA over copied key and value windows, the window an additive float mask (the library's local attention before commit b11c183)."
    def __init__(self, chunk_size, causal): super().__init__(); self.c, self.causal = chunk_size, causal
    def forward(self, q, k, v, mask=None):                         # (b, h, n, d), n a multiple of the chunk, no padding
        from einops import rearrange
        from reformer_repro.attention import look_around, mask_values
        c, n = self.c, q.shape[2]
        qpos = torch.arange(n, device=q.device).view(-1, c)          # (nc, c)
        kpos = look_around(qpos, 1, 0, -1, -2)                       # (nc, 2c), -1: before the start
        bad = (kpos < 0)[:, None, :] | ((kpos[:, None, :] > qpos[..., None]) if self.causal else False)  # (nc, c, 2c)
        bias = torch.zeros(bad.shape, dtype=q.dtype, device=q.device).masked_fill(bad, mask_values(q.dtype)[0])
        chunks = lambda t: rearrange(t, 'b h (nc c) d -> b h nc c d', c=c)
        kw, vw = (look_around(chunks(t), 1, 0, 0., -3) for t in (k, v))  # (b, h, nc, 2c, d) copies
        return rearrange(torch.nn.functional.scaled_dot_product_attention(chunks(q), kw, vw, attn_mask=bias), 'b h nc c d -> b h (nc c) d')

def make_layer(method, rounds, a, n):
    "One self-attention layer over (b, n, d_model), and a description of its settings."
    d, h, c, causal = a.d_model, a.heads, a.chunk, not a.bidirectional
    if method == 'full':
        from reformer_repro.attention import SelfAttention, FullAttention
        return SelfAttention(d, h, FullAttention(causal=causal)), 'SDPA, separate QK'
    if method == 'local':                                          # the authors' local layers: the chunk and the one before, separate QK
        from reformer_repro.attention import SelfAttention, LocalAttention
        return SelfAttention(d, h, LocalAttention(chunk_size=c, causal=causal)), f'chunk {c}, one chunk back, separate QK'
    if method == 'local_sdpa':                                     # the same attention on torch's SDPA with a window mask: the baseline of the chunk kernel
        from reformer_repro.attention import SelfAttention
        return SelfAttention(d, h, SDPALocal(c, causal)), f'chunk {c}, one chunk back, separate QK, SDPA with a float mask'
    if method in ('ours', 'ours_dedup'):
        from reformer_repro.attention import SelfAttention, LSHAttention
        core = LSHAttention(n_rounds=rounds, chunk_size=c, causal=causal, dedup=method == 'ours_dedup', seed=0)
        return SelfAttention(d, h, core), f'n_buckets={core.auto_buckets(n)}'
    if method == 'rp':
        from reformer_pytorch import LSHSelfAttention
        return LSHSelfAttention(dim=d, heads=h, bucket_size=c, n_hashes=rounds, causal=causal), f'n_buckets={n // c}'
    if method == 'hf':
        from transformers import ReformerConfig
        from transformers.models.reformer.modeling_reformer import ReformerAttention
        from reformer_repro.attention import LSHAttention
        nb = LSHAttention(chunk_size=c).auto_buckets(n)            # the same bucket count as ours
        cfg = ReformerConfig(hidden_size=d, num_attention_heads=h, attention_head_size=d // h, attn_layers=['lsh'],
                             lsh_attn_chunk_length=c, lsh_num_chunks_before=1, lsh_num_chunks_after=0,
                             num_hashes=rounds, num_buckets=list(nb) if isinstance(nb, tuple) else nb,
                             is_decoder=causal, lsh_attention_probs_dropout_prob=0., hidden_dropout_prob=0.,
                             max_position_embeddings=max(n, 2 * c), axial_pos_embds=False)
        layer = ReformerAttention(cfg)
        class HF(torch.nn.Module):                                  # return a tensor, like the others
            def __init__(self): super().__init__(); self.layer = layer
            def forward(self, x): return self.layer(x)[0]
        return HF(), f'n_buckets={nb}'
    raise ValueError(f'unknown method {method!r}')

# ---------------------------------------------------------------- memory
def _rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field): return int(line.split()[1]) * 1024
    return 0

def _reset_peak_rss():
    with open('/proc/self/clear_refs', 'w') as f: f.write('5')   # resets VmHWM to the current RSS

def _malloc_returns_memory():
    "Make glibc give large blocks straight back to the OS, so RSS follows live tensors."
    try:
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(-3, 1 << 16)   # M_MMAP_THRESHOLD: fixed at 64 KiB (turns off the dynamic threshold)
        libc.mallopt(-1, 1 << 16)   # M_TRIM_THRESHOLD
        libc.malloc_trim(0)         # hand back what the timed steps left in the heap
    except OSError: pass

def malloc_keep():
    "Make glibc keep freed blocks up to 1 GiB for reuse instead of mapping each large tensor afresh (for --malloc keep)."
    libc = ctypes.CDLL('libc.so.6')
    if not (libc.mallopt(-3, 1 << 30) and libc.mallopt(-1, (1 << 31) - 1)):   # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
        raise RuntimeError('glibc refused mallopt(M_MMAP_THRESHOLD, 1 GiB): run with --malloc default')

# ---------------------------------------------------------------- one configuration, in a child process
def run_one(method, rounds, n, a, conn):
    try:
        if a.malloc == 'keep' and a.device == 'cpu': malloc_keep()   # every method alike, before anything is allocated
        torch.set_num_threads(a.threads)
        dev = torch.device(a.device)
        torch.manual_seed(0)                                      # the peers draw their rotations from it
        b = max(1, a.tokens // n)
        layer, note = make_layer(method, rounds, a, n)
        layer = layer.to(dev).train()
        x = torch.randn(b, n, a.d_model, device=dev, requires_grad=True)
        gy = torch.randn(b, n, a.d_model, device=dev)
        sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
        def step():
            y = layer(x)
            y.backward(gy)
        for _ in range(a.warmup): step()
        times = []
        for _ in range(a.repeats):
            sync(); t = time.perf_counter(); step(); sync(); times.append(time.perf_counter() - t)
        # memory: one more step, measured from a clean baseline (timing above used the default allocator)
        x.grad = None; layer.zero_grad(set_to_none=True); gc.collect(); sync()
        if dev.type == 'cuda':
            torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
        else:
            _malloc_returns_memory(); base = _rss('VmRSS'); _reset_peak_rss()
        step(); sync()
        peak = (torch.cuda.max_memory_allocated() if dev.type == 'cuda' else _rss('VmHWM')) - base
        conn.send(dict(status='ok', batch=b, seconds=min(times), times=times,
                       peak_mib=peak / 2**20, note=note))
    except Exception as e:  # reported in the table, the run goes on
        conn.send(dict(status=f'error: {type(e).__name__}: {str(e)[:200]}'))

def run_child(method, rounds, n, a):
    ctx = mp.get_context('fork' if a.device == 'cpu' else 'spawn')
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=run_one, args=(method, rounds, n, a, send))
    p.start(); p.join(a.timeout)
    if p.is_alive():
        p.kill(); p.join()
        return dict(status=f'timeout > {a.timeout}s')
    return recv.recv() if recv.poll() else dict(status=f'crashed (exit {p.exitcode}; out of memory?)')

# ---------------------------------------------------------------- the run
def versions():
    "Python, torch, einops, this package and the peers (reformer_pytorch, transformers): the project's run records."
    v = package_versions()
    return dict(python=v['python'], torch=v['torch'], einops=v['einops'], reformer_pytorch=v.get('reformer_pytorch') or 'not installed',
                transformers=v.get('transformers') or 'not installed', reformer_repro=v['reformer_repro'])

def configs(a):
    for n in a.lengths:
        if 'full' in a.methods:
            yield ('full', 0, n) if n <= a.full_max else ('full', 0, n, f'skipped: n > --full-max {a.full_max}')
        for m in ('local', 'local_sdpa'):
            if m in a.methods: yield (m, 0, n)
        for r in a.rounds:
            for m in ('ours', 'ours_dedup', 'rp', 'hf'):
                if m in a.methods and (m != 'ours_dedup' or r in a.dedup_rounds): yield (m, r, n)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    p.add_argument('--lengths', default='1024,2048,4096,8192,16384,32768,65536', help='sequence lengths, comma-separated')
    p.add_argument('--tokens', type=int, default=8192, help='tokens per batch: batch = max(1, tokens // n)')
    p.add_argument('--rounds', default='1,2,4,8', help='LSH hash rounds, comma-separated')
    p.add_argument('--dedup-rounds', default='4', help="rounds at which to also time ours with the duplicate correction ('' for none)")
    p.add_argument('--methods', default='full,ours,ours_dedup,rp,hf', help='any of full, local, local_sdpa, ours, ours_dedup, rp, hf (local: our LocalAttention; local_sdpa: the same on SDPA with a window mask; neither in the default)')
    p.add_argument('--repeats', type=int, default=2, help='timed forward+backward passes (the fastest is reported)')
    p.add_argument('--warmup', type=int, default=1, help='untimed passes first')
    p.add_argument('--d-model', type=int, default=256); p.add_argument('--heads', type=int, default=4)
    p.add_argument('--chunk', type=int, default=64, help='chunk length c (reformer_pytorch bucket_size)')
    p.add_argument('--bidirectional', action='store_true', help='no causal mask (default: causal, as in a language model)')
    p.add_argument('--full-max', type=int, default=16384, help='skip full attention above this length')
    p.add_argument('--threads', type=int, default=torch.get_num_threads())
    p.add_argument('--timeout', type=float, default=300, help='seconds per configuration')
    p.add_argument('--malloc', choices=('default', 'keep'), default='default',
                   help="CPU allocator for the timed passes: glibc's defaults, or 'keep': freed blocks up to 1 GiB kept for reuse, for every method")
    p.add_argument('--out', default=None, help='results folder; default benchmarks/attention/results/<device>')
    a = p.parse_args(argv)
    ints = lambda s: [int(t) for t in s.split(',') if t]
    a.lengths, a.rounds, a.dedup_rounds, a.methods = ints(a.lengths), ints(a.rounds), ints(a.dedup_rounds), a.methods.split(',')
    out = Path(a.out or Path(__file__).parent / 'results' / a.device.split(':')[0])
    out.mkdir(parents=True, exist_ok=True)
    started, code = datetime.datetime.now(datetime.timezone.utc), git_info(ROOT)  # the code's state before any result is written
    rows = []
    for cfg in configs(a):
        method, r, n = cfg[:3]
        res = dict(status=cfg[3]) if len(cfg) > 3 else run_child(method, r, n, a)
        row = {**dict(method=method, rounds=r, n=n, batch=max(1, a.tokens // n)), **res}
        if 'seconds' in row: row['us_per_token'] = 1e6 * row['seconds'] / (row['batch'] * n)
        rows.append(row)
        print(f"{method:>10} r={r} n={n:>6}: " + (f"{row['seconds']:.3f}s  {row['us_per_token']:.2f}us/token  {row['peak_mib']:.0f}MiB"
              if row.get('status') == 'ok' else row['status']), flush=True)
    write_results(rows, a, out, started, code)

# ---------------------------------------------------------------- results
def write_results(rows, a, out, started, code):
    import csv
    keys = ['method', 'rounds', 'n', 'batch', 'status', 'seconds', 'us_per_token', 'peak_mib', 'note', 'times']
    with atomic_write(out / 'results.csv') as tmp, open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, keys, extrasaction='ignore'); w.writeheader(); w.writerows(rows)
    manifest = dict(command=' '.join([Path(sys.executable).name, 'benchmarks/attention/bench_attention.py'] + sys.argv[1:]),
                    args={k: v for k, v in vars(a).items()}, started=started.isoformat(),
                    finished=datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    versions=versions(), hardware=hardware(), git=code)
    atomic_write_text(json.dumps(manifest, indent=1, default=str), out / 'manifest.json')
    atomic_write_text(markdown(rows, a, manifest), out / 'results.md')
    print(f'wrote {out}/results.csv, results.md, manifest.json')

def _machine(hw, device):
    "The GPU (a CUDA run) or the CPU model, from a manifest's hardware record (old records had 'gpu', new ones 'gpus')."
    gpus = hw.get('gpus') or ([hw['gpu']] if hw.get('gpu') else [])
    return ', '.join(gpus) if device.startswith('cuda') and gpus else hw.get('cpu', '')

def markdown(rows, a, manifest):
    get = {(r['method'], r['rounds'], r['n']): r for r in rows}
    ok = lambda m, r, n: get.get((m, r, n), {}).get('status') == 'ok'
    val = lambda m, r, n, k: get[(m, r, n)][k]
    L = [f"# Attention benchmark, {a.device}", '',
         f"One self-attention layer, forward + backward. d_model={a.d_model}, heads={a.heads}, chunk={a.chunk}, "
         f"{'bidirectional' if a.bidirectional else 'causal'}, {a.tokens} tokens per batch (batch = max(1, tokens // n)), "
         f"fastest of {a.repeats} timed passes after {a.warmup} warm-up (the machine may be shared). torch {manifest['versions']['torch']}, "
         f"reformer_pytorch {manifest['versions']['reformer_pytorch']}, transformers {manifest['versions']['transformers']}; "
         f"{_machine(manifest['hardware'], a.device)}, {a.threads} threads"
         + ("; CPU allocator: glibc keeping freed blocks up to 1 GiB for reuse (--malloc keep), every method alike." if getattr(a, 'malloc', 'default') == 'keep' else '.'), '',
         '## Time per token (microseconds)', '',
         '| method | rounds | ' + ' | '.join(str(n) for n in a.lengths) + ' |',
         '|---|---|' + '---|' * len(a.lengths)]
    cell = lambda m, r, n: f"{val(m, r, n, 'us_per_token'):.2f}" if ok(m, r, n) else get.get((m, r, n), {}).get('status', '-').split(':')[0]
    methods = [('full', 0), ('local', 0), ('local_sdpa', 0)] + [(m, r) for r in a.rounds for m in ('ours', 'ours_dedup', 'rp', 'hf')]
    methods = [(m, r) for m, r in methods if any((m, r, n) in get for n in a.lengths)]
    for m, r in methods: L.append(f"| {m} | {r or ''} | " + ' | '.join(cell(m, r, n) for n in a.lengths) + ' |')
    L += ['', '## Speed-up of ours (no duplicate correction, as the peers) over each peer (peer time / our time)', '',
          '| peer | rounds | ' + ' | '.join(str(n) for n in a.lengths) + ' |', '|---|---|' + '---|' * len(a.lengths)]
    for peer in ('rp', 'hf', 'ours_dedup'):
        for r in a.rounds:
            if not any((peer, r, n) in get for n in a.lengths): continue
            L.append(f"| {peer} | {r} | " + ' | '.join(f"{val(peer, r, n, 'seconds') / val('ours', r, n, 'seconds'):.2f}x"
                     if ok(peer, r, n) and ok('ours', r, n) else '-' for n in a.lengths) + ' |')
    L += ['', '## Full attention time / ours', '', '| rounds | ' + ' | '.join(str(n) for n in a.lengths) + ' |',
          '|---|' + '---|' * len(a.lengths)]
    for r in a.rounds:
        L.append(f"| {r} | " + ' | '.join(f"{val('full', 0, n, 'seconds') / val('ours', r, n, 'seconds'):.2f}x"
                 if ok('full', 0, n) and ok('ours', r, n) else '-' for n in a.lengths) + ' |')
    L += ['', '## Peak memory above the inputs (MiB)', '',
          '| method | rounds | ' + ' | '.join(str(n) for n in a.lengths) + ' |', '|---|---|' + '---|' * len(a.lengths)]
    for m, r in methods: L.append(f"| {m} | {r or ''} | " + ' | '.join(f"{val(m, r, n, 'peak_mib'):.0f}" if ok(m, r, n) else '-' for n in a.lengths) + ' |')
    L += ['', 'Batch per length: ' + ', '.join(f'{n}: {max(1, a.tokens // n)}' for n in a.lengths) +
          '. Above `tokens`, the batch is 1 and a step holds n tokens; per-token numbers stay comparable, memory grows with n.', '']
    errs = [r for r in rows if r.get('status') not in ('ok', None)]
    if errs: L += ['Not measured:', ''] + [f"- {r['method']} r={r['rounds']} n={r['n']}: {r['status']}" for r in errs] + ['']
    return '\n'.join(L)

if __name__ == '__main__': main()
