"""The worker of docs/build.py: nbdev's docs processing of one notebook (`nbdev.processors.FilterDefaults`, what
`nbdev_proc_nbs` runs), with a failing docs-time cell recorded instead of stopping. A module of its own so that
spawned workers can import it (IPython replaces a worker's `__main__`)."""
from __future__ import annotations
import os, re, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def process_notebook(src: str, dst: str) -> dict:
    "Run nbdev's docs processors on notebook `src`, write the result to `dst`; return errors and warnings."
    import warnings
    os.environ['IN_TEST'] = '1'
    os.chdir(ROOT)
    from execnb.nbio import read_nb, write_nb
    from nbdev import processors
    errors = []

    class exec_show_docs(processors.exec_show_docs):  # same name, so settings.ini's skip_procs still applies
        "nbdev's processor; a failing cell is recorded (nbdev_docs would stop there) and the build goes on."
        def __call__(self, cell):
            try: super().__call__(cell)
            except Exception as e:
                exc = self.k.exc or e
                d = getattr(cell, 'directives_', {}) or {}
                why = ('it is exported' if {'export', 'exports', 'exporti', 'exec_doc'} & d.keys() else
                       'it calls show_doc' if 'show_doc(' in cell.source else 'it has an import')
                msg = ' '.join(f'{type(exc).__name__}: {exc}'.split())
                errors.append(dict(cell=cell.get('id') or f'#{cell.idx_}', first_line=_first_line(cell.source),
                                   why=why, error=msg if len(msg) < 300 else msg[:300] + ' ...'))
                self.k.exc = None

    class Filters(processors.FilterDefaults):
        def base_procs(self):
            return [exec_show_docs if p is processors.exec_show_docs else p for p in super().base_procs()]

    t0 = time.time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        nb = read_nb(src)
        Filters()(nb)
        write_nb(nb, dst)
    found = []
    cells = [c for c in read_nb(src).cells if c.cell_type == 'code']
    for w in caught:
        m = re.search(r'---\n(.*?)\n---', str(w.message), re.S)
        if 'containing imports and other code' in str(w.message) and m:
            first = _first_line(m.group(1))
            ids = [c.get('id', '?') for c in cells if first and first in c.source]
            found.append(f'cell {ids[0] if ids else "?"} ({first!r}) runs at docs time: it has an import and other code '
                         '(nbdev runs every cell with an import when it builds the docs; move the import to the import cell)')
    return dict(errors=errors, warnings=found, seconds=round(time.time() - t0, 1))

def _first_line(src: str) -> str:
    lines = [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith('#|')]
    return (lines[0] if lines else '')[:80]
