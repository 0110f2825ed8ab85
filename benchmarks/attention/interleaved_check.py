"""A cross-check of bench_attention.py for shared machines: the three LSH layers timed in turn, pass by pass.

bench_attention.py runs each configuration on its own, so a burst of load from another process lands on one
configuration only. Here ours, reformer_pytorch and Hugging Face take turns inside one process, so load affects
them alike; the fastest of the passes after the first is reported. Time only, no memory.
"""
import argparse, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
import bench_attention as B

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--cases', default='4096:1,8192:1,4096:2,8192:2,4096:4,8192:4,16384:4,8192:8', help='length:rounds pairs')
p.add_argument('--tokens', type=int, default=8192); p.add_argument('--passes', type=int, default=6)
args = p.parse_args()
torch.set_num_threads(torch.get_num_threads())
a = argparse.Namespace(d_model=256, heads=4, chunk=64, bidirectional=False)
for case in args.cases.split(','):
    n, r = map(int, case.split(':'))
    torch.manual_seed(0)
    layers = {m: B.make_layer(m, r, a, n)[0].train() for m in ('ours', 'rp', 'hf')}
    x = torch.randn(max(1, args.tokens // n), n, a.d_model, requires_grad=True)
    gy = torch.randn_like(x)
    times = {m: [] for m in layers}
    for _ in range(args.passes):
        for m, layer in layers.items():
            t = time.perf_counter(); layer(x).backward(gy); times[m].append(time.perf_counter() - t)
    best = {m: min(v[1:]) for m, v in times.items()}
    print(f"n={n:>6} r={r}: " + ', '.join(f'{m} {t:.3f}s' for m, t in best.items()) +
          f"; rp/ours {best['rp'] / best['ours']:.2f}x, hf/ours {best['hf'] / best['ours']:.2f}x", flush=True)
