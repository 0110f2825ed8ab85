"""Build the documentation site offline, without Quarto: `python docs/build.py` writes `_site/`.

The pages are the ones `nbdev_docs` publishes, made from the same input: nbdev's processed notebooks
(`nbdev.processors.FilterDefaults`, exactly what `nbdev_proc_nbs` runs: front matter from the title cell,
`show_doc` sections after exported cells, hidden cells removed, links to the API added), in the order of
nbdev's `sidebar.yml`. Pandoc (Debian's `pandoc`, the engine inside Quarto) turns each page's Pandoc
markdown into HTML, so Quarto's link attributes (`{target=...}`), fenced divs (`::: {.callout-note}`) and
heading identifiers (the anchors that nbdev's doc links point at) come out as they do on the published site;
equations become MathML, which the browser typesets with no JavaScript and no network.

First it checks the Quarto publishing path: it regenerates `nbs/nbdev.yml` and `nbs/sidebar.yml` with nbdev's
own functions (`refresh_quarto_yml`, `nbdev_sidebar`; never `nbdev_proc_nbs`/`nbdev_docs`, whose
`_ensure_quarto()` would try to install Quarto with sudo), checks that both YAML files parse and say what
settings.ini says, and that the deploy workflow publishes the folder that `nbdev_docs` writes.

Exit status 1 when a notebook cannot be processed as `nbdev_docs` would process it (a cell that nbdev runs at
docs time fails), or the publishing config is wrong; the site is written all the same (a failing cell is
skipped and named), so `--keep-going` only changes the exit status. See docs/README.md.
"""
from __future__ import annotations
import argparse, base64, hashlib, html, json, os, re, shutil, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbdev_proc import process_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT/'docs'
CACHE_VERSION = '5'  # bump when the processing step changes

# ---------------------------------------------------------------------------------------------------------
# 1. The Quarto publishing path: nbdev.yml, sidebar.yml, _quarto.yml, the deploy workflow.

def check_publishing(cfg) -> tuple[list[str], list[str]]:
    "Regenerate nbdev.yml and sidebar.yml the way nbdev_docs does and check them: (notebooks in sidebar order, problems)."
    import yaml
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar  # neither calls _ensure_quarto()
    problems, nbs = [], Path(cfg.nbs_path)
    refresh_quarto_yml()
    try:
        ny = yaml.safe_load((nbs/'nbdev.yml').read_text(encoding='utf-8'))
        site = ny['website']
        want = dict(title=cfg.title, description=cfg.description, **{'site-url': cfg.doc_host + cfg.doc_baseurl,
                    'repo-url': cfg.git_url})
        for k, v in want.items():
            if site.get(k) != v: problems.append(f'nbs/nbdev.yml: website.{k} is {site.get(k)!r}, settings.ini says {v!r}')
        if ny['project']['output-dir'] != Path(cfg.doc_path).name:
            problems.append(f"nbs/nbdev.yml: project.output-dir {ny['project']['output-dir']!r} is not doc_path")
    except Exception as e:
        problems.append(f'nbs/nbdev.yml (written by nbdev from settings.ini) is not valid YAML: {e}. '
                        'Keep ASCII double quotes and backslashes out of title and description in settings.ini.')
    try:
        qy = yaml.safe_load((nbs/'_quarto.yml').read_text(encoding='utf-8'))
        missing = {'nbdev.yml', 'sidebar.yml'} - set(qy.get('metadata-files', []))
        if missing: problems.append(f'nbs/_quarto.yml: metadata-files must include {sorted(missing)}')
    except Exception as e: problems.append(f'nbs/_quarto.yml is not valid YAML: {e}')
    nbdev_sidebar.__wrapped__()
    sidebar = yaml.safe_load((nbs/'sidebar.yml').read_text(encoding='utf-8'))['website']['sidebar']['contents']
    def flat(items):
        for o in items:
            if isinstance(o, dict): yield from flat(o.get('contents', []))
            else: yield o
    order = [o for o in flat(sidebar) if o.endswith('.ipynb')]
    # nbdev_docs replaces doc_path wholesale and the deploy workflow publishes ./_docs (fastai/workflows/quarto-ghp).
    doc_path = Path(cfg.doc_path)
    root = Path(cfg.config_path)
    tracked = subprocess.run(['git', 'ls-files', '--', str(doc_path)], cwd=root, capture_output=True, text=True).stdout.split()
    if tracked: problems.append(f'doc_path {doc_path.name}/ holds tracked files, which nbdev_docs would delete: {tracked[:3]}')
    wf = root/'.github'/'workflows'/'deploy.yaml'
    if wf.exists():
        text = wf.read_text(encoding='utf-8')
        m = re.search(r'publish_dir:\s*(\S+)', text)
        published = m.group(1) if m else ('./_docs' if 'quarto-ghp' in text else None)
        if published is None or Path(published).name != doc_path.name or doc_path.parent != root:
            problems.append(f'.github/workflows/deploy.yaml publishes {published}, but nbdev_docs writes {doc_path}')
    return order, problems

# ---------------------------------------------------------------------------------------------------------
# 2. nbdev's processing of each notebook, in fresh processes (as nbdev_proc_nbs does), with the docs-time
#    errors recorded instead of stopping the build: docs/nbdev_proc.py (its own module, because IPython
#    replaces a worker's __main__).

def cache_key(nb_path: Path) -> str:
    "Everything a processed notebook depends on: the notebook, the settings, the library, nbdev."
    import nbdev
    h = hashlib.sha256(f'{CACHE_VERSION} {nbdev.__version__}'.encode())
    for p in [nb_path, ROOT/'settings.ini', *sorted((ROOT/'reformer_repro').glob('*.py'))]:
        h.update(p.name.encode()); h.update(p.read_bytes())
    return h.hexdigest()

def process_all(cfg, order: list[str], cache: Path, jobs: int) -> dict[str, dict]:
    cache.mkdir(parents=True, exist_ok=True)
    results, todo = {}, []
    for name in order:
        src = Path(cfg.nbs_path)/name
        key, meta = cache_key(src), cache/(Path(name).stem + '.json')
        if meta.exists() and (cache/name).exists():
            m = json.loads(meta.read_text())
            if m.get('key') == key: results[name] = m | {'cached': True}; continue
        todo.append((name, src, key))
    if todo:
        # fresh 'spawn' workers, reused across notebooks, as nbdev_proc_nbs does (fastcore.parallel)
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo))), mp_context=get_context('spawn')) as ex:
            futs = {ex.submit(process_notebook, str(src), str(cache/name)): (name, key) for name, src, key in todo}
            for f in as_completed(futs):
                name, key = futs[f]
                try: r = f.result()
                except Exception as e:  # the notebook could not be read or processed at all
                    r = dict(errors=[dict(cell='-', first_line='', error=f'{type(e).__name__}: {e}')], warnings=[], seconds=0)
                    (cache/name).unlink(missing_ok=True)
                r['key'] = key
                (cache/(Path(name).stem + '.json')).write_text(json.dumps(r, indent=1))
                results[name] = r
    return results

# ---------------------------------------------------------------------------------------------------------
# 3. A processed notebook -> Pandoc markdown, with Quarto's cell options honoured.

_re_opt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
_re_showdoc = re.compile(r'^\s*show_doc\(', re.M)

def cell_options(src: str) -> tuple[dict, str]:
    "Quarto cell options (`#| key: value` lines at the top) and the code without them."
    opts, lines = {}, src.splitlines()
    i = 0
    while i < len(lines) and (m := _re_opt.match(lines[i])):
        v = m.group(2).strip().strip('"\'') if m.group(2) else 'true'
        opts[m.group(1)] = v.lower() if v.lower() in ('true', 'false', 'show', 'asis') else v
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')

def fence(text: str, attrs: str) -> str:
    "A fenced code block longer than any backtick run inside `text`."
    n = max([3] + [len(r) + 1 for r in re.findall(r'`{3,}', text)])
    return f"{'`' * n}{attrs}\n{text}\n{'`' * n}"

def _text(v) -> str: return ''.join(v) if isinstance(v, list) else (v or '')

def output_md(out: dict, opts: dict, showdoc: bool, files: Path, rel: str, tag: str) -> str:
    "One cell output as Pandoc markdown; images are written under `files` and linked as `rel/...`."
    t = out.get('output_type')
    if t == 'stream':
        text = _re_ansi.sub('', _text(out.get('text'))).rstrip('\n')
        return fence(text, '{.cell-output .cell-output-' + out.get('name', 'stdout') + '}') if text.strip() else ''
    if t == 'error':
        tb = _re_ansi.sub('', '\n'.join(out.get('traceback') or [f"{out.get('ename')}: {out.get('evalue')}"]))
        return fence(tb, '{.cell-output .cell-output-error}')
    data = out.get('data', {})
    if 'text/markdown' in data and (opts.get('output') == 'asis' or showdoc):
        md = _text(data['text/markdown']).strip('\n')
        return f'::: {{.api}}\n\n{md}\n\n:::' if showdoc else md
    for mime, ext in (('image/png', 'png'), ('image/jpeg', 'jpg'), ('image/gif', 'gif'), ('image/svg+xml', 'svg')):
        if mime in data:
            raw = _text(data[mime])
            blob = raw.encode() if ext == 'svg' else base64.b64decode(raw)
            files.mkdir(parents=True, exist_ok=True)
            (files/f'{tag}.{ext}').write_bytes(blob)
            meta, size = out.get('metadata', {}).get(mime, {}) or {}, ''
            if isinstance(meta, dict) and meta.get('width'): size = f'{{width={meta["width"]}}}'
            alt = _text(data.get('text/plain', '')).strip()
            alt = '' if alt.startswith('<') else alt.replace('[', '(').replace(']', ')')
            return f'::: {{.cell-output-display}}\n![]({rel}/{tag}.{ext}){size}\n:::' if not alt else \
                   f'::: {{.cell-output-display}}\n![{alt}]({rel}/{tag}.{ext}){size}\\\n:::'
    if 'text/html' in data: return f'::: {{.cell-output-display}}\n{fence(_text(data["text/html"]), "{=html}")}\n:::'
    if 'text/markdown' in data: return _text(data['text/markdown'])
    if 'text/latex' in data: return _text(data['text/latex'])
    if 'text/plain' in data:
        return fence(_re_ansi.sub('', _text(data['text/plain'])).rstrip('\n'), '{.cell-output .cell-output-display}')
    return ''

def notebook_md(nb: dict, stem: str, out_dir: Path) -> tuple[dict, str]:
    "A processed notebook as (front matter, Pandoc markdown body)."
    import yaml
    fm, blocks = {}, []
    files_rel = f'{stem}_files/figure-html'
    for i, c in enumerate(nb['cells']):
        src = _text(c.get('source'))
        if c['cell_type'] == 'raw':
            s = src.strip()
            if i == 0 and s.startswith('---'):
                fm = yaml.safe_load(s.strip('-\n')) or {}
            elif s: blocks.append(s)
            continue
        if c['cell_type'] == 'markdown':
            if src.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            for name, att in (c.get('attachments') or {}).items():
                mime, b64 = next(iter(att.items()))
                p = out_dir/f'{stem}_files'/'attachments'/name
                p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(base64.b64decode(_text(b64)))
                src = src.replace(f'attachment:{name}', f'{stem}_files/attachments/{name}')
            blocks.append(src)
            continue
        opts, code = cell_options(src)
        if opts.get('include') == 'false': continue
        showdoc = bool(_re_showdoc.search(code))
        parts = []
        if code.strip() and opts.get('echo') != 'false':
            block = fence(code, '{.python .cell-code}')
            fold = opts.get('code-fold')
            if fold in ('true', 'show'):
                summary = html.escape(opts.get('code-summary') or 'Code')
                block = (f'<details class="code-fold"{" open" if fold == "show" else ""}>\n<summary>{summary}</summary>\n\n'
                         f'{block}\n\n</details>')
            parts.append(block)
        if opts.get('output') != 'false':
            for k, o in enumerate(c.get('outputs', [])):
                md = output_md(o, opts, showdoc, out_dir/files_rel, files_rel, f'cell-{i}-output-{k + 1}')
                if md: parts.append(md)
        if parts: blocks.append('::::: {.cell}\n\n' + '\n\n'.join(parts) + '\n\n:::::')
    return fm, '\n\n'.join(blocks) + '\n'

# ---------------------------------------------------------------------------------------------------------
# 4. Pandoc: markdown -> AST (links, equations rewritten here) -> HTML page.

def pandoc(args: list[str], text: str) -> str:
    r = subprocess.run(['pandoc', *args], input=text, capture_output=True, text=True, encoding='utf-8')
    if r.returncode: raise RuntimeError(f'pandoc {" ".join(args)} failed:\n{r.stderr}')
    return r.stdout

def _str(node_list) -> str:
    "Plain text of a list of inline nodes."
    out = []
    for n in node_list:
        t = n.get('t')
        if t == 'Str': out.append(n['c'])
        elif t in ('Space', 'SoftBreak'): out.append(' ')
        elif t == 'Code': out.append(n['c'][1])
        elif t in ('Emph', 'Strong', 'Span', 'Link', 'SmallCaps', 'Strikeout'):
            out.append(_str(n['c'][-1] if t in ('Emph', 'Strong', 'SmallCaps', 'Strikeout') else n['c'][1]))
    return ''.join(out)

_re_tag = re.compile(r'\\tag\*?\{([^{}]*)\}')

class PageAST:
    "The AST pass over one page: rewrite links into the site, number equations, collect ids and links."
    def __init__(self, page: str, site_prefix: str, pages: dict, repo_url: str, nbs: Path, out: Path, branch: str = 'main'):
        self.page, self.prefix, self.pages, self.repo, self.nbs, self.out = page, site_prefix, pages, repo_url, nbs, out
        self.branch = branch
        self.ids, self.links, self.notes, self.eq, self.labels = set(), [], [], 0, {}

    def url(self, u: str) -> str:
        if self.prefix and u.startswith(self.prefix): u = u[len(self.prefix):].lstrip('/') or 'index.html'
        if re.match(r'^[a-z][a-z0-9+.-]*:|^#|^//', u, re.I): return u
        path, _, frag = u.partition('#')
        name = Path(path).name
        if name in self.pages: return self.pages[name] + ('#' + frag if frag else '')  # notebook -> its page
        if path.endswith('.html') or not path or (self.out/path).is_file(): return u
        src = (self.nbs/path).resolve()  # a file next to the notebooks (an image, a data file): copy it along
        if src.is_file() and src.is_relative_to(self.nbs):
            dst = self.out/src.relative_to(self.nbs)
            dst.parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(src, dst)
            return u
        if src.exists() and src.is_relative_to(ROOT):
            rel = src.relative_to(ROOT).as_posix()
            self.notes.append(f'{self.page}: link to {u} (outside the site; Quarto would leave it broken, '
                              f'link {self.repo}/blob/... instead); rewritten to the repository')
            return f'{self.repo}/{"tree" if src.is_dir() else "blob"}/{self.branch}/{rel}' + ('#' + frag if frag else '')
        self.notes.append(f'{self.page}: link to {u}, which is neither a page nor a file')
        return u

    def walk(self, x):
        if isinstance(x, list):
            if x and all(isinstance(o, dict) and 't' in o for o in x): x[:] = self.inlines(x)
            for o in x: self.walk(o)
        elif isinstance(x, dict):
            t, c = x.get('t'), x.get('c')
            if t in ('Header', 'Div', 'Span', 'CodeBlock', 'Code', 'Link', 'Image', 'Table', 'Figure'):
                attr = c[1] if t in ('Header',) else c[0]
                if t in ('Header', 'Div', 'Span', 'CodeBlock', 'Table') and attr and attr[0]: self.ids.add(attr[0])
            if t in ('Link', 'Image'):
                target = c[2]
                target[0] = self.url(target[0])
                if t == 'Link': self.links.append(target[0])
            if c is not None: self.walk(c)

    def inlines(self, xs: list) -> list:
        "Equations: `\\tag{N}` and Quarto's `{#eq-label}` become a numbered equation; `@eq-label` a link to it."
        out, i = [], 0
        while i < len(xs):
            n = xs[i]
            if n.get('t') == 'Math' and n['c'][0]['t'] == 'DisplayMath':
                tex = n['c'][1]
                m = _re_tag.search(tex)
                label, j = '', i + 1
                while j < len(xs) and xs[j].get('t') in ('Space', 'SoftBreak'): j += 1
                if j < len(xs) and xs[j].get('t') == 'Str' and (lm := re.fullmatch(r'\{#(eq-[\w:-]+)\}', xs[j]['c'])):
                    label, i = lm.group(1), j
                if m or label:
                    if m: num, tex = m.group(1), _re_tag.sub('', tex)
                    else: self.eq += 1; num = str(self.eq)
                    if label: self.labels[label] = num; self.ids.add(label)
                    math = {'t': 'Math', 'c': [n['c'][0], tex]}
                    no = {'t': 'Span', 'c': [['', ['eq-number'], []], [{'t': 'Str', 'c': f'({num})'}]]}
                    n = {'t': 'Span', 'c': [[label, ['equation'], []], [math, no]]}
            elif n.get('t') == 'Cite' and all(ct['citationId'].startswith('eq-') for ct in n['c'][0]):
                ref = n['c'][0][0]['citationId']
                n = {'t': 'Link', 'c': [['', ['eq-ref'], []], [{'t': 'Str', 'c': f'Equation\u00a0{{{ref}}}'}], ['#' + ref, '']]}
            out.append(n); i += 1
        return out

    def fix_refs(self, x):
        "Second pass: equation references get their numbers."
        if isinstance(x, list):
            for o in x: self.fix_refs(o)
        elif isinstance(x, dict):
            if x.get('t') == 'Link' and 'eq-ref' in x['c'][0][1]:
                ref = x['c'][2][0][1:]
                x['c'][1] = [{'t': 'Str', 'c': f'Equation\u00a0{self.labels.get(ref, "??")}'}]
                if ref not in self.labels: self.notes.append(f'{self.page}: @{ref} refers to no labelled equation')
            elif x.get('c') is not None: self.fix_refs(x['c'])

def sidebar_html(pages: list[dict], current: str) -> str:
    items = []
    for p in pages:
        cls = ' class="active" aria-current="page"' if p['file'] == current else ''
        items.append(f'<li><a href="{p["file"]}"{cls}>{html.escape(p["title"])}</a></li>')
    return '<ul>\n' + '\n'.join(items) + '\n</ul>'

def pagenav_html(pages: list[dict], i: int) -> str:
    prev = (f'<a class="prev" rel="prev" href="{pages[i-1]["file"]}"><span>Previous</span>{html.escape(pages[i-1]["title"])}</a>'
            if i > 0 else '<span></span>')
    nxt = (f'<a class="next" rel="next" href="{pages[i+1]["file"]}"><span>Next</span>{html.escape(pages[i+1]["title"])}</a>'
           if i + 1 < len(pages) else '<span></span>')
    return prev + nxt

_re_mrm = re.compile(r'<mstyle mathvariant="normal">((?:(?!<mstyle|</mstyle>).)*)</mstyle>', re.S)

def fix_mathml(page: str) -> str:
    "texmath writes \\mathrm{softmax} as single-letter <mi>s in a <mstyle mathvariant=normal>, which MathML Core "
    "(Chromium) ignores: letters come out italic and spaced. Make them one upright <mi>."
    def upright(m):
        runs = lambda r: '<mi mathvariant="normal">' + ''.join(re.findall(r'<mi>([^<])</mi>', r.group(0))) + '</mi>'
        return '<mrow>' + re.sub(r'(?:<mi>[^<]</mi>)+', runs, m.group(1)) + '</mrow>'
    return _re_mrm.sub(upright, page)

MATH_FONTS = ['/usr/share/fonts/truetype/dejavu/DejaVuMathTeXGyre.ttf', '/usr/share/fonts/opentype/lmodern/latinmodern-math.otf',
              '/usr/share/texmf/fonts/opentype/public/lm-math/latinmodern-math.otf']

def math_font(out: Path) -> str | None:
    "Ship an OpenType MATH font with the site (stretchy brackets, radicals), so equations look right anywhere."
    for f in map(Path, MATH_FONTS):
        if f.is_file():
            (out/'fonts').mkdir(exist_ok=True); shutil.copyfile(f, out/'fonts'/f.name)
            return (f'\n@font-face {{ font-family: "Docs Math"; src: url("fonts/{f.name}"); }}\n'
                    'math { font-family: "Docs Math", "DejaVu Math TeX Gyre", "Latin Modern Math", "STIX Two Math", math; }\n')
    return None

def plain(md: str) -> str:
    "Markdown one-liner to plain text, for <meta name=description> and link titles."
    return re.sub(r'[`*_]', '', re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', md or '')).strip()

# ---------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='_site', help='output folder, relative to the repository root (default: _site)')
    ap.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1), help='notebooks processed at once (default: 2)')
    ap.add_argument('--keep-going', action='store_true', help='exit 0 even if a notebook fails at docs time')
    ap.add_argument('--no-cache', action='store_true', help='process every notebook again')
    args = ap.parse_args(argv)
    t0 = time.time()
    os.chdir(ROOT)
    if not shutil.which('pandoc'): sys.exit('pandoc is not installed: apt-get install -y pandoc (see docs/README.md)')
    import yaml
    from nbdev.config import get_config
    cfg = get_config()
    order, problems = check_publishing(cfg)
    cache = ROOT/'.docs_cache'
    if args.no_cache: shutil.rmtree(cache, ignore_errors=True)
    results = process_all(cfg, order, cache, args.jobs)
    t_proc = time.time() - t0

    out = ROOT/args.out
    shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    nbs = Path(cfg.nbs_path)
    pages, mds = [], {}
    for name in order:
        if not (cache/name).exists(): continue
        nb = json.loads((cache/name).read_text(encoding='utf-8'))
        stem = Path(name).stem
        fm, body = notebook_md(nb, re.sub(r'^\d+_', '', stem), out)
        file = fm.get('output-file') or re.sub(r'^\d+_', '', stem) + '.html'
        pages.append(dict(file=file, title=str(fm.get('title') or stem), description=str(fm.get('description') or ''),
                          notebook=f'{nbs.name}/{name}'))
        mds[file] = (fm, body)
    # index first, then the notebooks in order (nbdev_sidebar's order)
    page_of = {Path(p['notebook']).name: p['file'] for p in pages}
    prefix = (cfg.doc_host + cfg.doc_baseurl).rstrip('/') + '/'
    tmpl = DOCS/'template.html'
    css, font = (DOCS/'site.css').read_text(encoding='utf-8'), math_font(out)
    (out/'site.css').write_text(css + (font or ''), encoding='utf-8')
    notes, n_links = [], 0
    if not font: notes.append('no OpenType math font found (apt-get install -y fonts-dejavu-extra): equations use the '
                              "browser's default math font, brackets do not stretch")
    site_title, site_desc = cfg.title, cfg.description
    def to_ast(p):
        fm, body = mds[p['file']]
        meta = {'title': p['title']}
        if p['description']: meta['description'] = p['description']
        md = '---\n' + yaml.safe_dump(meta, allow_unicode=True) + '---\n\n' + body
        return json.loads(pandoc(['-f', 'markdown', '-t', 'json'], md))
    asts = {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:  # pandoc runs in its own processes
        for p, ast in zip(pages, ex.map(to_ast, pages)):
            pa = PageAST(p['file'], prefix, page_of, cfg.git_url, nbs.resolve(), out, cfg.branch)
            pa.walk(ast['blocks']); pa.fix_refs(ast['blocks'])
            notes += pa.notes; n_links += len(pa.links)
            asts[p['file']] = (ast, pa)
    ids = {f: a[1].ids for f, a in asts.items()}
    for f, (ast, pa) in asts.items():  # links inside the site must reach a page and an anchor
        for u in pa.links:
            if re.match(r'^[a-z][a-z0-9+.-]*:|^//', u, re.I): continue
            path, _, frag = u.partition('#')
            target = path or f
            if target.endswith('.html') and target not in ids: notes.append(f'{f}: link to {u}: no such page')
            elif frag and target in ids and frag not in ids[target]:
                hint = (' (nbdev links every backticked name it knows, private ones too, but shows docs only for public '
                        'ones: drop the backticks or the leading underscore)' if frag.startswith('_') else '')
                notes.append(f'{f}: link to {u}: no such anchor{hint}')
    def write_page(i):
        p = pages[i]
        ast, pa = asts[p['file']]
        vars_ = {'sidebar': sidebar_html(pages, p['file']), 'pagenav': pagenav_html(pages, i),
                 'site-title': html.escape(site_title), 'site-description': html.escape(site_desc),
                 'description-meta': html.escape(plain(p['description'])), 'repo-url': cfg.git_url,
                 'source-notebook': f'{cfg.git_url}/blob/{cfg.branch}/{p["notebook"]}', 'notebook': p['notebook']}
        args_ = ['-f', 'json', '-t', 'html5', '--standalone', '--template', str(tmpl), '--mathml', '--toc',
                 '--toc-depth=3', '--highlight-style=pygments', '--wrap=none', '--email-obfuscation=none']
        for k, v in vars_.items(): args_ += ['-V', f'{k}={v}']
        (out/p['file']).write_text(fix_mathml(pandoc(args_, json.dumps(ast))), encoding='utf-8')
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex: list(ex.map(write_page, range(len(pages))))
    (out/'site.json').write_text(json.dumps(dict(pages=pages), indent=1) + '\n', encoding='utf-8')

    errors = [(n, e) for n, r in results.items() for e in r.get('errors', [])]
    warns = [(n, w) for n, r in results.items() for w in r.get('warnings', [])]
    for n, e in errors:
        why = e.get('why', 'it has an import')
        fix = (" Move the import into the notebook's import cell, so that this cell is not run at docs time."
               if why == 'it has an import' else '')
        print(f"ERROR {nbs.name}/{n} cell {e['cell']} ({e['first_line']!r}): nbdev runs this cell when it builds the docs "
              f"({why}) and it fails: {e['error']}. nbdev_docs stops at this cell.{fix}", file=sys.stderr)
    for n, w in warns: print(f'warning {nbs.name}/{n}: {w}', file=sys.stderr)
    for p in problems: print(f'ERROR {p}', file=sys.stderr)
    for n in notes: print(f'warning {n}', file=sys.stderr)
    cached = sum(1 for r in results.values() if r.get('cached'))
    print(f'docs: {len(pages)} pages, {n_links} links -> {out.relative_to(ROOT)}/index.html in {time.time() - t0:.1f} s '
          f'(notebooks processed in {t_proc:.1f} s, {cached} from cache); {len(errors)} docs-time errors, '
          f'{len(problems)} publishing problems, {len(warns) + len(notes)} warnings')
    missing = [n for n in order if n not in results or not (cache/n).exists()]
    if missing: print(f'ERROR notebooks that could not be processed at all: {missing}', file=sys.stderr)
    return 1 if (problems or missing or (errors and not args.keep_going)) else 0

if __name__ == '__main__':
    sys.exit(main())
