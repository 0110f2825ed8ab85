"""Fail when committed notebook outputs hold noise: `python tools/check_outputs.py [NOTEBOOK ...]` (default: nbs/).

The notebooks are the documentation, so their outputs stay in git; what a reader does not need and what
changes from run to run must not (it makes every pull request's diff noisy, and leaks the author's machine):
local paths, timestamps, memory addresses, progress bars and widget warnings, profiler and timing lines,
terminal colour codes, widget outputs, and outputs too large to review. Each finding names the notebook, the
cell (its number and id) and the line. `python tools/run_nb.py NOTEBOOK` re-executes a notebook and removes
what can be removed safely; the rest is fixed in the notebook (print relative paths, drop timings, ...).
"""
from __future__ import annotations
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_OUTPUT_BYTES = 1_000_000  # one output (an image, a table) larger than this is not reviewable in a diff

NOISE = [  # (what, pattern): checked on every text line of every output
    ('a local path', re.compile(r'(?<![\w.])(?:/tmp/|/root/|/home/|/work/|/Users/|/private/var/|/var/folders/|'
                                r'[A-Za-z]:\\Users\\|/site-packages/|/dist-packages/)')),
    ('a timestamp', re.compile(r'\b\d{4}-\d{2}-\d{2}[ T_]\d{2}:\d{2}(?::\d{2})?|\b20\d{6}[-_T]\d{4,6}\b|'
                               r'\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ')),
    ('a memory address', re.compile(r'\b0x[0-9a-fA-F]{6,}\b')),
    ('a progress bar or widget warning', re.compile(r'IProgress not found|TqdmWarning|TqdmExperimentalWarning|'
                                                    r'ipywidgets|\d+%\|[^|\n]*\|\s*\d|\bit/s\]|s/it\]')),
    ('a profiler or timing line', re.compile(r'^\s*(?:CPU times:|Wall time:)|per loop \(mean|ncalls\s+tottime|'
                                             r'Self CPU time total|Self CUDA time total|^\s*Elapsed:? \d')),
    ('a terminal colour code', re.compile(r'\x1b\[')),
]
WIDGET_MIMES = ('application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json')

def _text(v) -> str: return ''.join(v) if isinstance(v, list) else (v or '')

def output_texts(out: dict):
    "(kind, text) for every text an output holds."
    t = out.get('output_type')
    if t == 'stream': yield out.get('name', 'stream'), _text(out.get('text'))
    elif t == 'error': yield 'traceback', '\n'.join(out.get('traceback') or [])
    else:
        for mime, v in (out.get('data') or {}).items():
            if mime.startswith('text/') or mime.endswith('json'): yield mime, _text(v) if not isinstance(v, dict) else json.dumps(v)

def check_notebook(path: Path) -> list[str]:
    "Every noise finding in the outputs of notebook `path`, one line each."
    try: nb = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as e: return [f'{path}: cannot read the notebook: {e}']
    rel, found = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path, []
    for i, c in enumerate(nb.get('cells', [])):
        where = f'{rel} cell {i}' + (f' (id {c["id"]})' if c.get('id') else '')
        for o in c.get('outputs', []) or []:
            size = len(json.dumps(o))
            if size > MAX_OUTPUT_BYTES: found.append(f'{where}: an output of {size:,} bytes (limit {MAX_OUTPUT_BYTES:,}): make the figure or table smaller')
            for m in WIDGET_MIMES:
                if m in (o.get('data') or {}): found.append(f'{where}: a widget output ({m}): it renders as nothing outside Jupyter')
            for kind, text in output_texts(o):
                if kind in WIDGET_MIMES: continue
                for n, line in enumerate(text.splitlines(), 1):
                    for what, rx in NOISE:
                        if rx.search(line):
                            found.append(f'{where}, {kind} line {n}: {what}: {line.strip()[:100]!r}')
    return found

def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or sorted((ROOT/'nbs').glob('*.ipynb'))
    found, n_out = [], 0
    for p in paths:
        found += check_notebook(p)
        try: n_out += sum(len(c.get('outputs', []) or []) for c in json.loads(p.read_text(encoding='utf-8'))['cells'])
        except (OSError, ValueError, KeyError): pass
    for f in found: print(f)
    print(f'output noise: {len(paths)} notebooks, {n_out} outputs checked, {len(found)} findings')
    return 1 if found else 0

if __name__ == '__main__':
    sys.exit(main())
