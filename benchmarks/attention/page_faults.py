"""Memory faulted in per 16K tokens by one LSH layer step (forward + backward), with glibc's default allocator and with
freed memory kept (`MALLOC_MMAP_THRESHOLD_`), to show why the 32K point of the benchmark is slower per token.

Fault counts do not depend on the load of the machine, so this runs on a shared one; its times are only indicative.
    .venv-bench/bin/python benchmarks/attention/page_faults.py
"""
import argparse, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))   # use this checkout's reformer_repro

KEEP = dict(MALLOC_MMAP_THRESHOLD_=str(2**32), MALLOC_TRIM_THRESHOLD_=str(2**36))

def one(n:int, r:int, tokens:int) -> str:
    "Fault in, per `tokens` tokens, of the second step of an LSH-r layer at length n (batch = max(1, tokens // n))."
    import torch
    from reformer_repro.attention import SelfAttention, LSHAttention
    torch.set_num_threads(1); torch.manual_seed(0)
    b = max(1, tokens // n)
    sa = SelfAttention(256, 4, LSHAttention(n_rounds=r, chunk_size=64, causal=True, seed=0))
    x = torch.randn(b, n, 256, requires_grad=True)
    sa(x).sum().backward()                                            # warm-up
    f0, t = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    sa(x).sum().backward()
    f, t = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0, time.perf_counter() - t
    per = tokens / (b * n)
    return f'{f * per * os.sysconf("SC_PAGE_SIZE") / 2**20:.0f} MiB | {t * per:.2f}'

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--lengths', default='1024,16384,32768'); p.add_argument('--rounds', default='1,2,4')
    p.add_argument('--tokens', type=int, default=16384); p.add_argument('--one', nargs=2, type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one: print(one(*a.one, a.tokens)); sys.exit()
    print(f'Memory faulted in per {a.tokens} tokens by one step of one causal LSH layer (d_model 256, 4 heads, chunk 64), '
          'and its seconds per 16K tokens (1 thread; indicative only). glibc: default allocator; kept: '
          + ' '.join(f'{k}={v}' for k, v in KEEP.items()) + '\n')
    print('| length | rounds | tokens per step | faulted in, glibc | s, glibc | faulted in, kept | s, kept |\n|---|---|---|---|---|---|---|')
    for n in map(int, a.lengths.split(',')):
        for r in map(int, a.rounds.split(',')):
            cells = [subprocess.run([sys.executable, __file__, '--one', str(n), str(r), '--tokens', str(a.tokens)],
                                    env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout.strip()
                     for env in ({}, KEEP)]
            print(f'| {n} | {r} | {max(1, a.tokens // n) * n} | ' + ' | '.join(cells) + ' |')
