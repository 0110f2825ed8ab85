"""Write README.md from nbs/index.ipynb without Quarto (nbdev_readme needs it; `.ci/run` checks the two agree).

Markdown cells are copied; code cells are shown as Python blocks with their text outputs, markdown outputs
(`IPython.display.Markdown`) as markdown; cells marked `#| hide` are left out and `#| echo: false` cells
show only their outputs, as nbdev does. Usage: python tools/make_readme.py [--check]
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def render(nb:dict) -> str:
    out = []
    for c in nb['cells']:
        src = ''.join(c['source']).strip()
        if not src or any(l.strip().replace(' ', '') in ('#|hide', '#|exporti') for l in src.splitlines()[:3]): continue
        if c['cell_type'] == 'markdown': out.append(src)
        elif c['cell_type'] == 'code':
            flags = [l.strip().replace(' ', '') for l in src.splitlines()[:3]]
            if '#|echo:false' not in flags: out.append(f'```python\n{src}\n```')
            for o in c.get('outputs', []):
                md = o.get('data', {}).get('text/markdown')
                text = ''.join(o.get('text', '') or o.get('data', {}).get('text/plain', ''))
                if md: out.append(''.join(md).strip())
                elif text.strip(): out.append(f'```\n{text.rstrip()}\n```')
    note = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->'
    return '\n\n'.join([note] + out) + '\n'

if __name__ == '__main__':
    text = render(json.loads((root/'nbs'/'index.ipynb').read_text(encoding='utf-8')))
    readme = root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is not what nbs/index.ipynb generates: run `python tools/make_readme.py` and commit it')
    else: readme.write_text(text, encoding='utf-8')
