"""Where the time of one LSH layer step goes at a short and a long length: torch.profiler's self time per operator,
per 16K tokens, with the same tokens per step. Shows which operators make the time per token grow with length.

    .venv-bench/bin/python benchmarks/attention/profile_lengths.py --malloc keep > benchmarks/attention/results/cpu-16k-keep/profile.md
"""
import argparse, sys
from pathlib import Path
import torch
from torch.profiler import profile, ProfilerActivity

sys.path.insert(0, str(Path(__file__).parent))
import bench_attention as B                                          # make_layer, malloc_keep; puts this checkout first

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--lengths', default='1024,32768', help='sequence lengths, comma-separated')
p.add_argument('--rounds', type=int, default=1, help='hash rounds (no duplicate correction below 2)')
p.add_argument('--method', default='ours', help="bench_attention.py's method name: ours or ours_dedup")
p.add_argument('--tokens', type=int, default=16384, help='tokens per step: batch = max(1, tokens // n)')
p.add_argument('--steps', type=int, default=3, help='profiled steps, after three warm-up steps')
p.add_argument('--top', type=int, default=10, help='operators shown')
p.add_argument('--threads', type=int, default=torch.get_num_threads())
p.add_argument('--malloc', choices=('default', 'keep'), default='default', help="as in bench_attention.py")
args = p.parse_args()
if args.malloc == 'keep': B.malloc_keep()
torch.set_num_threads(args.threads)
a = argparse.Namespace(d_model=256, heads=4, chunk=64, bidirectional=False)
lengths = [int(n) for n in args.lengths.split(',')]
per_op, totals = {}, {}
for n in lengths:
    torch.manual_seed(0)
    layer = B.make_layer(args.method, args.rounds, a, n)[0].train()
    x = torch.randn(max(1, args.tokens // n), n, a.d_model, requires_grad=True); gy = torch.randn_like(x)
    for _ in range(3): layer(x).backward(gy)
    scale = args.tokens / (x.shape[0] * n) / args.steps / 1000     # microseconds per step -> ms per `tokens` tokens
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps): layer(x).backward(gy)
    per_op[n] = {e.key: e.self_cpu_time_total * scale for e in prof.key_averages()}
    totals[n] = sum(per_op[n].values())
top = sorted(per_op[lengths[-1]], key=lambda k: -per_op[lengths[-1]][k])[:args.top]
print(f"Self CPU time per operator, ms per {args.tokens} tokens, one {args.method} LSH-{args.rounds} layer (d_model 256, 4 heads, chunk 64, causal), "
      f"forward + backward, mean of {args.steps} profiled steps; {args.threads} threads; allocator: {args.malloc}. "
      f"Times under the profiler are longer than without it; compare the lengths, not the absolute values.\n")
print('| operator | ' + ' | '.join(str(n) for n in lengths) + f' | {lengths[-1]} / {lengths[0]} |')
print('|---|' + '---|' * (len(lengths) + 1))
for k in top:
    v = [per_op[n].get(k, 0.) for n in lengths]
    ratio = f'{v[-1] / v[0]:.2f}x' if v[0] else '-'
    print(f'| `{k}` | ' + ' | '.join(f'{x:.1f}' for x in v) + f' | {ratio} |')
sort = [sum(v for k, v in per_op[n].items() if 'sort' in k) for n in lengths]
print('| all sorting (`sort`, `argsort`) | ' + ' | '.join(f'{x:.1f}' for x in sort) + ' | |')
print('| all operators | ' + ' | '.join(f'{totals[n]:.1f}' for n in lengths) + f' | {totals[lengths[-1]] / totals[lengths[0]]:.2f}x |')
