"""Browser test of the offline documentation site: `python docs/test_site.py` (after `python docs/build.py`).

Serves `_site/` on 127.0.0.1 and opens every page in headless Chromium (Debian's `chromium`, driven by
Playwright; the browser loads nothing from outside the machine). It fails when:
- a page is missing from the sidebar (one page per notebook in nbs/, index first), or is not in every page's sidebar;
- a page logs a console error or a page error, a request fails or answers >= 400, or the page asks for
  anything that is not on the site (a CDN, a font);
- a link inside the site (sidebar, previous/next, a cross-reference such as [`name`](module.html#name))
  points to a page or an anchor that does not exist;
- an exported name (each module's `__all__` functions and classes, and the public methods added with
  `@patch`) has no API section (a `show_doc` heading with that name and anchor) on its module's page;
- an image does not load (naturalWidth 0);
- an equation is not typeset (a MathML element with no size, or raw TeX such as `$x$` left in the text).
Prints a summary and exits 1 on any failure. `--shots DIR` also saves screenshots of the index page, the
attention page and the `ReformerLM` API section.
"""
from __future__ import annotations
import argparse, ast, functools, http.server, importlib, inspect, json, re, sys, tempfile, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urlparse, unquote

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable']
CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--no-first-run', '--disable-gpu', '--disable-default-apps', '--disable-extensions']

PAGE_JS = r"""() => {
  const skip = new Set(['CODE', 'PRE', 'MATH', 'SCRIPT', 'STYLE', 'ANNOTATION', 'TEXTAREA']);
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = /\$\$|\$[^$\n]*[\\^_{}][^$\n]*\$|\\\(|\\\[|\\begin\{/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let p = n.parentElement, bad = false;
    while (p) { if (skip.has(p.tagName.toUpperCase())) { bad = true; break; } p = p.parentElement; }
    if (!bad && tex.test(n.textContent)) raw.push(n.textContent.trim().slice(0, 80));
  }
  const rect = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    title: document.title,
    h1: (document.querySelector('h1.title') || {}).textContent || '',
    description: (document.querySelector('meta[name=description]') || {}).content || '',
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    sidebar: [...document.querySelectorAll('nav.sidebar a')].map(a => a.getAttribute('href')),
    prev: (document.querySelector('.page-nav a.prev') || {href: null}).href,
    next: (document.querySelector('.page-nav a.next') || {href: null}).href,
    links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.href, raw: a.getAttribute('href'),
             text: a.textContent.trim().slice(0, 60)})),
    images: [...document.querySelectorAll('img')].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
             w: i.naturalWidth})),
    math: [...document.querySelectorAll('math')].map(m => ({size: rect(m), display: getComputedStyle(m).display,
             tex: (m.querySelector('annotation') || {}).textContent || ''})),
    api: [...document.querySelectorAll('.api h2[id], .api h3[id], .api h4[id]')].map(h => ({id: h.id, text: h.textContent.trim()})),
    raw_tex: raw,
  };
}"""

def expected_pages() -> list[str]:
    "One page per notebook, named as nbdev names it (index first)."
    from nbdev.doclinks import _nbpath2html
    nbs = sorted((ROOT/'nbs').glob('*.ipynb'))
    names = [_nbpath2html(p).name for p in nbs]
    return sorted(names, key=lambda n: (n != 'index.html'))

def exported_names() -> dict[str, list[tuple[str, str]]]:
    "page -> [(name, anchor)] for every exported function and class and every public @patch method."
    sys.path.insert(0, str(ROOT))
    from reformer_repro._modidx import d
    syms, out = d['syms'], {}
    def where(mod, qual):
        entry = syms.get(mod, {}).get(f'{mod}.{qual}')
        if entry: return entry[0].split('#')
        return f"{mod.split('.')[-1]}.html", qual.lower()
    for mod in sorted(syms):
        m = importlib.import_module(mod)
        names = []
        for n in getattr(m, '__all__', []):
            o = getattr(m, n, None)
            if inspect.isclass(o) or inspect.isfunction(o) or inspect.isbuiltin(o): names.append(n)
        tree = ast.parse(Path(m.__file__).read_text(encoding='utf-8'))
        for f in tree.body:  # @patch def name(self:Class, ...): nbdev documents these as Class.name
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and not f.name.startswith('_') and any(
                    'patch' in ast.unparse(dec) for dec in f.decorator_list) and f.args.args and f.args.args[0].annotation:
                cls = ast.unparse(f.args.args[0].annotation)
                for c in cls.strip('()').split('|'): names.append(f'{c.strip()}.{f.name}')
        for n in names:
            page, anchor = where(mod, n)
            out.setdefault(page, []).append((n, anchor))
    return out

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

def serve(site: Path):
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f'http://127.0.0.1:{httpd.server_address[1]}/'

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--site', default='_site', help='the built site (default: _site)')
    ap.add_argument('--shots', default=None, help='save screenshots in this folder')
    ap.add_argument('--browser', default=None, help='a Chromium-family executable (default: the first of ' + ', '.join(BROWSERS) + ')')
    ap.add_argument('--which-browser', action='store_true', help='print the browser that would be used, and stop')
    args = ap.parse_args(argv)
    args.browser = args.browser or next((b for b in BROWSERS if Path(b).exists()), '')
    if args.which_browser:
        if args.browser: print(args.browser)
        return 0 if args.browser else 1
    site = (ROOT/args.site).resolve()
    if not (site/'index.html').exists(): sys.exit(f'{site}/index.html not found: run python docs/build.py first')
    if not args.browser or not Path(args.browser).exists():
        sys.exit(f'no browser found ({args.browser or ", ".join(BROWSERS)}): apt-get install -y chromium')
    from playwright.sync_api import sync_playwright
    t0 = time.time()
    httpd, base = serve(site)
    fails: list[str] = []
    pages = expected_pages()
    built = sorted(p.name for p in site.glob('*.html'))
    for p in sorted(set(pages) - set(built)): fails.append(f'{p}: no such page in {site.name}/ (one page per notebook)')
    for p in sorted(set(built) - set(pages)): fails.append(f'{p}: a page that no notebook makes')
    info, n_ext = {}, 0
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=args.browser, headless=True, args=CHROMIUM_ARGS,
                                                    viewport={'width': 1400, 'height': 900})
        page_fails: list[str] = []
        def route(r):
            u = r.request.url
            if u.startswith(base) or u.startswith('data:'): return r.continue_()
            page_fails.append(f'request to outside the site: {u}'); r.abort()
        ctx.route('**/*', route)
        pg = ctx.new_page()
        pg.on('console', lambda m: m.type == 'error' and page_fails.append(f'console error: {m.text}'))
        pg.on('pageerror', lambda e: page_fails.append(f'page error: {e}'))
        pg.on('requestfailed', lambda r: r.url.startswith(base) and page_fails.append(f'request failed: {r.url} ({r.failure})'))
        pg.on('response', lambda r: r.status >= 400 and page_fails.append(f'HTTP {r.status}: {r.url}'))
        for name in [p for p in pages if p in built]:
            page_fails.clear()
            pg.goto(base + name, wait_until='load')
            pg.wait_for_load_state('networkidle')
            info[name] = pg.evaluate(PAGE_JS)
            fails += [f'{name}: {f}' for f in page_fails]
        # links: every in-site link must reach a page, a file, and an anchor
        ids = {n: set(i['ids']) for n, i in info.items()}
        n_links = n_checked = 0
        for name, i in info.items():
            if i['sidebar'] != pages: fails.append(f'{name}: sidebar is {i["sidebar"]}, expected {pages}')
            k = pages.index(name)
            if (i['prev'] or None) != (base + pages[k - 1] if k else None): fails.append(f'{name}: previous-page link is {i["prev"]}')
            if (i['next'] or None) != (base + pages[k + 1] if k + 1 < len(pages) else None): fails.append(f'{name}: next-page link is {i["next"]}')
            if not i['h1'].strip() or i['h1'].strip() not in i['title']: fails.append(f'{name}: page title {i["title"]!r} / heading {i["h1"]!r}')
            if not i['description']: fails.append(f'{name}: no description (the `> summary` line under the notebook title)')
            for l in i['links']:
                n_links += 1
                href = l['href']
                if not href.startswith(base):
                    if urlparse(href).scheme in ('http', 'https', 'mailto'): n_ext += 1
                    else: fails.append(f'{name}: link {l["raw"]!r} ({l["text"]!r}) is neither in the site nor http(s)')
                    continue
                n_checked += 1
                url, frag = urldefrag(href)
                target = unquote(url[len(base):]) or 'index.html'
                if target.endswith('.html'):
                    if target not in ids: fails.append(f'{name}: link {l["raw"]!r} ({l["text"]!r}): no page {target}'); continue
                    if frag and unquote(frag) not in ids[target]:
                        fails.append(f'{name}: link {l["raw"]!r} ({l["text"]!r}): no anchor #{frag} on {target}')
                elif not (site/target).is_file(): fails.append(f'{name}: link {l["raw"]!r}: no file {target}')
        # API sections
        n_names = 0
        for page, names in exported_names().items():
            api = {a['id']: a['text'] for a in info.get(page, {}).get('api', [])}
            for n, anchor in names:
                n_names += 1
                if page not in info: fails.append(f'{n}: its page {page} does not exist'); continue
                if api.get(anchor) == n: continue
                msg = f'{page}: no API section for {n} at #{anchor}, where nbdev links it'
                same = [i for i, t in api.items() if t == n]
                short = [i for i, t in api.items() if '.' in n and t == n.split('.')[-1]]
                if same and anchor in ids.get(page, ()):
                    msg += (f'; its section is #{same[0]} because an earlier heading took #{anchor}: rename that heading '
                            f'or give it its own id (## Title {{#other-id}})')
                elif short:
                    msg += (f'; show_doc titled it {n.split(".")[-1]!r} (#{short[0]}), as it does for a decorated @patch '
                            f'method: write show_doc({n}, name={n!r}) after its cell')
                fails.append(msg)
        # images and equations
        n_img = n_math = 0
        for name, i in info.items():
            for im in i['images']:
                n_img += 1
                if not im['ok']: fails.append(f'{name}: image {im["src"]} did not load')
            for m in i['math']:
                n_math += 1
                if min(m['size']) <= 0 or 'math' not in m['display']:
                    fails.append(f'{name}: equation not typeset ({m["display"]}, size {m["size"]}): {m["tex"][:60]!r}')
            for t in i['raw_tex']: fails.append(f'{name}: raw TeX in the text: {t!r}')
        if args.shots:
            shots = Path(args.shots); shots.mkdir(parents=True, exist_ok=True)
            for fn, url in [('index.png', 'index.html'), ('attention.png', 'attention.html'),
                            ('reformerlm_api.png', 'models.html#reformerlm')]:
                pg.goto(base + url, wait_until='load'); pg.wait_for_timeout(200)
                pg.screenshot(path=str(shots/fn))
            print(f'screenshots in {shots}/: index.png, attention.png, reformerlm_api.png')
        ctx.close()
    httpd.shutdown()
    for f in fails: print('FAIL', f)
    print(f'browser test: {len(info)} pages, {n_links} links ({n_checked} in the site checked, {n_ext} external not followed), '
          f'{n_names} API names, {n_img} images, {n_math} equations checked in {time.time() - t0:.1f} s: '
          f'{len(fails)} failures')
    return 1 if fails else 0

if __name__ == '__main__':
    sys.exit(main())
