"""A cross-check of bench_attention.py for shared machines: the layers timed in turn, pass by pass.

bench_attention.py runs each configuration on its own, so a burst of load from another process lands on one
configuration only. Here our LSH layer (with and without the duplicate correction), reformer_pytorch's, Hugging
Face's and full attention take turns inside one process, so load affects them alike; the fastest of the passes
after the first is reported, in seconds per step. Time only, no memory. With --out, the table and a manifest are
written there.
"""
import argparse, datetime, json, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
import bench_attention as B
from reformer_repro.runs import atomic_write_text, git_info, hardware, package_versions

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--cases', default='1024:4,4096:4,16384:4,32768:4', help='length:rounds pairs')
p.add_argument('--tokens', type=int, default=16384, help='tokens per step: batch = max(1, tokens // n)')
p.add_argument('--passes', type=int, default=4)
p.add_argument('--methods', default='full,ours_dedup,ours,rp,hf')
p.add_argument('--full-max', type=int, default=16384, help='skip full attention above this length')
p.add_argument('--threads', type=int, default=torch.get_num_threads())
p.add_argument('--out', default=None, help='folder for interleaved.md and interleaved_manifest.json')
p.add_argument('--malloc', choices=('default', 'keep'), default='default',
               help="CPU allocator: glibc's defaults, or 'keep': freed blocks up to 1 GiB kept for reuse (bench_attention.py's option)")
args = p.parse_args()
if args.malloc == 'keep': B.malloc_keep()                             # before anything large is allocated
torch.set_num_threads(args.threads)
a = argparse.Namespace(d_model=256, heads=4, chunk=64, bidirectional=False)
methods = args.methods.split(',')
lines = [f'Seconds per step of {args.tokens} tokens (one layer, forward + backward; a 32K sequence is 32K tokens, its time is '
         f'given per {args.tokens} tokens), fastest of {args.passes - 1} interleaved passes after one warm-up; {args.threads} threads'
         + ('; CPU allocator: glibc keeping freed blocks up to 1 GiB for reuse (--malloc keep).' if args.malloc == 'keep' else '.'), '',
         '| length | rounds | ' + ' | '.join(methods) + ' | correction cost | fastest peer / ours_dedup | full / ours_dedup |',
         '|---|---|' + '---|' * (len(methods) + 3)]
start, code = time.time(), git_info()                                # the code's state before any result is written
for case in args.cases.split(','):
    n, r = map(int, case.split(':'))
    torch.manual_seed(0)
    run = [m for m in methods if not (m == 'full' and n > args.full_max)]
    layers = {m: B.make_layer(m, r, a, n)[0].train() for m in run}
    x = torch.randn(max(1, args.tokens // n), n, a.d_model, requires_grad=True)
    gy = torch.randn_like(x)
    times = {m: [] for m in layers}
    for _ in range(args.passes):
        for m, layer in layers.items():
            t = time.perf_counter(); layer(x).backward(gy); times[m].append(time.perf_counter() - t)
    per = args.tokens / (x.shape[0] * n)                               # per `tokens` tokens
    best = {m: min(v[1:]) * per for m, v in times.items()}
    fmt = lambda m: f'{best[m]:.3f}' if m in best else 'skipped'
    ratio = lambda num, den: f'{best[num] / best[den]:.2f}x' if num in best and den in best else '-'
    peers = [m for m in ('rp', 'hf') if m in best]
    fastest = min(peers, key=best.get) if peers else None
    row = (f'| {n} | {r} | ' + ' | '.join(fmt(m) for m in methods) + f" | {ratio('ours_dedup', 'ours')} | "
           f"{ratio(fastest, 'ours_dedup') if fastest else '-'} | {ratio('full', 'ours_dedup')} |")
    lines.append(row); print(row, flush=True)
if args.out:
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    atomic_write_text('\n'.join(lines) + '\n', out/'interleaved.md')
    man = dict(command=' '.join(['python', *sys.argv]), args=vars(args), date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               seconds=round(time.time() - start, 1), versions=package_versions(), hardware=hardware(), git=code)
    atomic_write_text(json.dumps(man, indent=1) + '\n', out/'interleaved_manifest.json')
