"""Tests of the repository tools themselves: `python tools/test_tools.py` (run by .ci/run).

Each check would fail if its tool silently stopped doing its job: the noise check must find each kind of
noise and name the cell, run_nb's cleaning must remove what it claims to, the docs build must honour Quarto's
cell options, number equations, rewrite nbdev's absolute links and fix texmath's upright text, and the
docstring check must see a missing parameter comment.
"""
from __future__ import annotations
import json, re, subprocess, sys, tempfile, textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT/'tools'), str(ROOT/'docs')]
results = []

def case(f):
    try: f(); results.append((f.__name__, None))
    except Exception as e: results.append((f.__name__, e))
    return f

def _nb(outputs_per_cell):
    cells = [dict(cell_type='code', id=f'c{i}', metadata={}, execution_count=None, outputs=o, source='x')
             for i, o in enumerate(outputs_per_cell)]
    return dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)

NOISY = [
    [dict(output_type='stream', name='stdout', text=['saved to /tmp/tmpab12/x.txt\n'])],
    [dict(output_type='stream', name='stdout', text=['started 2026-11-21 14:03:11\n'])],
    [dict(output_type='execute_result', execution_count=None, metadata={}, data={'text/plain': ['<object at 0x7f3a2b1c0d20>']})],
    [dict(output_type='stream', name='stderr', text=['IProgress not found. Please update jupyter and ipywidgets.\n'])],
    [dict(output_type='stream', name='stderr', text=[' 40%|####      | 2/5 [00:01<00:02,  1.50it/s]\n'])],
    [dict(output_type='stream', name='stdout', text=['CPU times: user 1 ms, sys: 0 ns, total: 1 ms\n'])],
    [dict(output_type='stream', name='stdout', text=['\x1b[31mred\x1b[0m\n'])],
    [dict(output_type='display_data', metadata={}, data={'application/vnd.jupyter.widget-view+json': {'model_id': 'a'},
                                                         'text/plain': ['HBox(children=(...))']})],
]

@case
def noise_check_finds_each_kind_and_names_the_cell():
    from check_outputs import check_notebook
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)/'noisy.ipynb'; p.write_text(json.dumps(_nb(NOISY)))
        found = check_notebook(p)
        for i, what in enumerate(['local path', 'timestamp', 'memory address', 'widget warning', 'progress bar',
                                  'timing line', 'colour code', 'widget output']):
            assert any(f'cell {i} (id c{i})' in f and what in f for f in found), (what, found)
        p.write_text(json.dumps(_nb([[dict(output_type='stream', name='stdout', text=['loss 0.25 after 300 steps\n'])]])))
        assert check_notebook(p) == []

@case
def run_nb_cleaning_removes_what_it_claims():
    from run_nb import clean_outputs
    from check_outputs import check_notebook
    cleaned = [clean_outputs(o) for i, o in enumerate(NOISY) if i != 1]  # a timestamp is not removable
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)/'clean.ipynb'; p.write_text(json.dumps(_nb(cleaned)))
        assert check_notebook(p) == [], check_notebook(p)
    assert clean_outputs(NOISY[0])[0]['text'] == ['saved to <tmp>/x.txt\n']
    assert clean_outputs([dict(output_type='stream', name='stdout', text=[f'{ROOT}/nbs\n'])])[0]['text'] == ['<repo>/nbs\n']

@case
def quarto_cell_options_are_honoured():
    from build import notebook_md, cell_options
    assert cell_options('#| echo: false\n#| output: asis\nshow_doc(f)') == ({'echo': 'false', 'output': 'asis'}, 'show_doc(f)')
    nb = dict(cells=[
        dict(cell_type='raw', source="---\ntitle: T\ndescription: 'D'\noutput-file: t.html\n---\n"),
        dict(cell_type='code', source='#| echo: false\nhidden_source()', outputs=[dict(output_type='stream', name='stdout', text='shown\n')]),
        dict(cell_type='code', source='#| include: false\ngone()', outputs=[dict(output_type='stream', name='stdout', text='gone\n')]),
        dict(cell_type='code', source='#| output: false\nkept_source()', outputs=[dict(output_type='stream', name='stdout', text='no\n')]),
        dict(cell_type='code', source='#| echo: false\n#| output: asis\nshow_doc(f)',
             outputs=[dict(output_type='execute_result', data={'text/markdown': '### f\n\ndoc', 'text/plain': 'f'})]),
    ])
    with tempfile.TemporaryDirectory() as d:
        fm, md = notebook_md(nb, 't', Path(d))
    assert fm['title'] == 'T' and fm['description'] == 'D'
    assert 'hidden_source' not in md and 'shown' in md and 'gone' not in md
    assert 'kept_source' in md and '\nno\n' not in md
    assert '::: {.api}\n\n### f\n\ndoc' in md

@case
def links_and_equations_are_rewritten():
    from build import PageAST, pandoc
    md = textwrap.dedent('''\
        [`f`](https://example.org/pkg/core.html#f) and [nb](03_attention.ipynb#lsh) and [ext](https://pytorch.org)

        $$a = b \\tag{3}$$

        $$c = d$$ {#eq-cd}

        See @eq-cd.
        ''')
    ast = json.loads(pandoc(['-f', 'markdown', '-t', 'json'], md))
    with tempfile.TemporaryDirectory() as d:
        pa = PageAST('x.html', 'https://example.org/pkg/', {'03_attention.ipynb': 'attention.html'}, 'https://github.com/o/r',
                     ROOT/'nbs', Path(d))
        pa.walk(ast['blocks']); pa.fix_refs(ast['blocks'])
    assert pa.links[:3] == ['core.html#f', 'attention.html#lsh', 'https://pytorch.org'], pa.links
    html = pandoc(['-f', 'json', '-t', 'html5', '--mathml'], json.dumps(ast))
    assert '(3)</span>' in html and '\\tag' not in html.split('<annotation')[0]
    assert 'id="eq-cd"' in html and '(1)</span>' in html and 'Equation\u00a01</a>' in html and '{#eq-cd}' not in html

@case
def mathrm_becomes_one_upright_identifier():
    from build import fix_mathml
    out = fix_mathml('<mstyle mathvariant="normal"><mi>s</mi><mi>o</mi><mi>f</mi><mi>t</mi></mstyle><mi>x</mi>')
    assert out == '<mrow><mi mathvariant="normal">soft</mi></mrow><mi>x</mi>', out

@case
def docstring_check_sees_a_missing_parameter_comment():
    from check_docstrings import check_function
    with tempfile.TemporaryDirectory() as d:
        (Path(d)/'m_doc.py').write_text(textwrap.dedent('''\
            def good(a:int, # the a
                    ): "Doc."
            def bad(a:int, b): "Doc."
            def nodoc(a, # the a
                     ): pass
            '''))
        sys.path.insert(0, d)
        import m_doc  # docments reads the source, so check while the file exists
        assert check_function('good', m_doc.good, False) == []
        assert check_function('bad', m_doc.bad, False) == ['bad: parameters without a doc comment: a, b']
        assert check_function('nodoc', m_doc.nodoc, False) == ['nodoc: no docstring']

@case
def publishing_check_catches_the_three_ways_it_broke():
    "Quotes in the description (invalid nbdev.yml), doc_path over tracked files, deploy publishing another folder."
    import os, shutil, subprocess
    from build import check_publishing
    from nbdev.config import get_config
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d/'nbs').mkdir(); (d/'.github'/'workflows').mkdir(parents=True); (d/'docs').mkdir()
        shutil.copy(ROOT/'nbs'/'_quarto.yml', d/'nbs'); shutil.copy(ROOT/'nbs'/'index.ipynb', d/'nbs')
        shutil.copy(ROOT/'.github'/'workflows'/'deploy.yaml', d/'.github'/'workflows')
        (d/'docs'/'README.md').write_text('tooling')
        subprocess.run(['git', 'init', '-q'], cwd=d, check=True); subprocess.run(['git', 'add', 'docs'], cwd=d, check=True)
        ini = (ROOT/'settings.ini').read_text()
        try:
            os.chdir(d)
            (d/'settings.ini').write_text(ini)
            order, problems = check_publishing(get_config())
            assert order[0] == 'index.ipynb' and problems == [], problems
            bad = re.sub(r'(?m)^description = .*$', 'description = A "quoted" title', ini)
            (d/'settings.ini').write_text(re.sub(r'(?m)^doc_path = .*$', 'doc_path = docs', bad))
            get_config.cache_clear() if hasattr(get_config, 'cache_clear') else None
            _, problems = check_publishing(get_config())
            text = '\n'.join(problems)
            assert 'nbdev.yml' in text and 'not valid YAML' in text, text
            assert "tracked files, which nbdev_docs would delete: ['docs/README.md']" in text, text
            assert 'deploy.yaml publishes ./_docs' in text, text
        finally: os.chdir(here)

if __name__ == '__main__':
    for name, e in results:
        print(f"{'ok  ' if e is None else 'FAIL'} {name}" + (f': {type(e).__name__}: {e}' if e else ''))
    bad = sum(1 for _, e in results if e)
    print(f'tools self-test: {len(results) - bad} passed, {bad} failed')
    sys.exit(1 if bad else 0)
