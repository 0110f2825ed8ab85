"""Re-execute notebooks in place and clean their outputs: `python tools/run_nb.py nbs/03_attention.ipynb [...]`.

1. Runs every cell in a fresh kernel (nbdev's executor, execnb's CaptureShell), from `nbs/`, skipping the
   cells that `nbdev_test` skips: flagged cells (`#| slow`, `#| cuda`; `--flags slow` runs them) and
   `#| eval: false`. A skipped cell keeps the outputs it had. On an error nothing is written.
2. Removes the noise that can be removed without changing what the output says: progress bars and widget
   warnings (`IProgress not found`, tqdm lines), widget outputs, profiler and timing lines, terminal colour
   codes; this machine's paths become relative ones (`<repo>`, `<tmp>`, `~`), memory addresses `0x...`.
3. Runs `nbdev_clean` on it (metadata, execution counts), then `tools/check_outputs.py`: exit 1 when noise
   is left that only the notebook's code can fix (print less, print relative paths).
The notebook is not overwritten if it changed on disk while it ran (someone saved it meanwhile).
"""
from __future__ import annotations
import argparse, os, re, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
from check_outputs import check_notebook, WIDGET_MIMES  # noqa: E402

_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
_drop_line = re.compile(r'IProgress not found|TqdmWarning|TqdmExperimentalWarning|warnings\.warn\(|^\s*(?:CPU times:|Wall time:)|'
                        r'per loop \(mean|\d+%\|[^|\n]*\|\s*\d|\bit/s\]|s/it\]')

def clean_text(text: str) -> str:
    "Text with colour codes, progress and timing lines removed and local paths made relative."
    text = _ansi.sub('', text)
    text = '\n'.join(l for l in re.split(r'\n', text) if not _drop_line.search(l.split('\r')[-1]))
    text = '\n'.join(l.split('\r')[-1] for l in text.split('\n'))  # a carriage-return redraw keeps its last state
    tmp = re.escape(tempfile.gettempdir().rstrip('/'))
    for pat, rep in [(re.escape(str(ROOT)), '<repo>'), (tmp + r'/[\w.-]+', '<tmp>'), (tmp + '/', '<tmp>/'),
                     (re.escape(str(Path.home())) + r'(?=/)', '~')]:
        text = re.sub(pat, rep, text)
    return re.sub(r'\b0x[0-9a-fA-F]{6,}\b', '0x...', text)

def _lines(text: str) -> list[str]: return text.splitlines(keepends=True)

def clean_outputs(outputs: list) -> list:
    "The outputs of one cell with the removable noise removed."
    res = []
    for o in outputs:
        t = o.get('output_type')
        if t == 'stream':
            text = clean_text(''.join(o.get('text', [])) if isinstance(o.get('text'), list) else o.get('text', ''))
            if text.strip(): res.append({**o, 'text': _lines(text.rstrip('\n') + '\n')})
            continue
        data = {k: v for k, v in (o.get('data') or {}).items() if k not in WIDGET_MIMES}
        if t in ('display_data', 'execute_result'):
            html = ''.join(data.get('text/html', []))
            if '<progress' in html or not data or (set(data) == {'text/plain'} and 'children=(' in ''.join(data['text/plain'])):
                continue  # a progress bar or a widget's text form
            for k, v in list(data.items()):
                if k.startswith('text/') and k != 'text/html':
                    data[k] = _lines(clean_text(''.join(v) if isinstance(v, list) else v))
            res.append({**o, 'data': data})
        else: res.append(o)
    return res

def run_notebook(path: Path, flags: set[str]) -> int:
    "Execute, clean and save notebook `path`; return the number of noise findings left (-1: it failed)."
    os.environ['IN_TEST'] = '1'  # the final `nbdev_export()` cell does nothing, as under nbdev_test
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from execnb.nbio import write_nb
    from nbdev.clean import nbdev_clean
    path = path.resolve()
    stamp = path.stat().st_mtime_ns
    nb = NBProcessor(path, rm_directives=False).nb
    skip_flags = set(get_config().tst_flags.split()) - flags
    skipped = []  # cells not run (they keep their outputs)
    def no_eval(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        d = getattr(cell, 'directives_', {}) or {}
        if d.get('eval:', [''])[0].lower() == 'false' or skip_flags & d.keys():
            skipped.append(id(cell)); return True
        cell['outputs'] = []  # a cell that runs shows only what it prints now (the shell keeps old outputs of a silent cell)
    shell, t0 = CaptureShell(path), time.time()
    try:
        with working_directory(path.parent): shell.run_all(nb, exc_stop=True, preproc=no_eval)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=path) + '\n')
        print(f'{path.name}: a cell failed; the notebook was not changed', file=sys.stderr)
        return -1
    for c in nb.cells:
        if c.cell_type == "code" and id(c) not in skipped: c['outputs'] = clean_outputs(c.get('outputs', []))
    if path.stat().st_mtime_ns != stamp:
        print(f'{path.name} changed on disk while it ran: not overwritten; run again', file=sys.stderr)
        return -1
    tmp = path.with_name(f'.{path.name}.run_nb.tmp')
    write_nb(nb, tmp)
    os.replace(tmp, path)
    nbdev_clean.__wrapped__(fname=str(path))
    found = check_notebook(path)
    for f in found: print(f)
    kept = (f'{len(skipped)} skipped cells kept their outputs' + (f' (--flags "{" ".join(sorted(skip_flags))}" runs them)'
            if skip_flags else '')) if skipped else 'no cell skipped'
    print(f'{path.name}: ran in {time.time() - t0:.0f} s, {kept}; {len(found)} noise findings left')
    return len(found)

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('notebooks', nargs='+', help='notebooks to execute and clean')
    ap.add_argument('--flags', default='', help='test flags to run as well, as for nbdev_test (e.g. "slow")')
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    bad = 0
    for nb in args.notebooks:
        if run_notebook(Path(nb), set(args.flags.split())) != 0: bad += 1
    return 1 if bad else 0

if __name__ == '__main__':
    sys.exit(main())
