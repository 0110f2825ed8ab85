"""Fail on public API without documentation: `python tools/check_docstrings.py`.

Walks every module of `reformer_repro` and checks each public function, class and method (the names in a
module's `__all__`, the public methods of those classes, the methods added to them with `@patch`, and their
properties): it needs a docstring, and each parameter needs a doc comment (fastcore's docments, the house
style: `x:int, # what x is`; a `fastcore.script.Param` help text counts). `self`, `cls` and an autograd
`ctx` need none, nor `*args`/`**kwargs` (docments cannot attach a comment to them: the docstring says where
they go). Also checks that `reformer_repro.__doc__` says what the package is. Lists every offender
and exits 1 if there is one.
"""
from __future__ import annotations
import dataclasses, importlib, inspect, pkgutil, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = 'reformer_repro'
SKIP_PARAMS = {'self', 'cls', 'ctx'}

def own_doc(obj) -> str:
    "The object's own docstring (not inherited), '' for a dataclass's or namedtuple's generated one."
    d = obj.__dict__.get('__doc__') if inspect.isclass(obj) else getattr(obj, '__doc__', None)
    d = (d or '').strip()
    if inspect.isclass(obj) and re.match(rf'{re.escape(obj.__name__)}\(.*\)$', d, re.S): return ''  # generated
    return d

def _documented_param(info: dict) -> bool:
    if info.get('docment'): return True
    anno = info.get('anno')
    if isinstance(anno, str): return bool(re.match(r"""\s*Param\(\s*(['"])\s*[^'"\s]""", anno))
    return bool(getattr(anno, 'help', None)) and type(anno).__name__ == 'Param'

def undocumented_params(f, skip_first: bool) -> list[str]:
    "Parameters of `f` without a doc comment."
    from fastcore.docments import docments
    try: sig = inspect.signature(f)
    except (TypeError, ValueError): return []
    names = [n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if skip_first and names: names = names[1:]
    names = [n for n in names if n not in SKIP_PARAMS]
    if not names: return []
    try: docs = docments(f, full=True)
    except Exception as e: return [f'(docments could not read the source: {type(e).__name__})']
    return [n for n in names if not _documented_param(docs.get(n, {}))]

def check_function(name: str, f, method: bool) -> list[str]:
    problems = []
    if not own_doc(f): problems.append('no docstring')
    missing = undocumented_params(f, skip_first=method)
    if missing: problems.append('parameters without a doc comment: ' + ', '.join(missing))
    return [f'{name}: {p}' for p in problems]

def check_class(name: str, cls) -> tuple[list[str], int]:
    out, n = [], 1
    if not own_doc(cls): out.append(f'{name}: no docstring')
    if dataclasses.is_dataclass(cls) or '__init__' in vars(cls):
        from fastcore.docments import docments
        target = cls if dataclasses.is_dataclass(cls) else cls.__init__
        try:
            docs = docments(target, full=True)
            params = [n for n, p in inspect.signature(cls).parameters.items()
                      if n not in SKIP_PARAMS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            missing = [p for p in params if not _documented_param(docs.get(p, {}))]
        except Exception as e: missing = [f'(docments could not read the source: {type(e).__name__})']
        if missing: out.append(f'{name}: constructor parameters without a doc comment: ' + ', '.join(missing))
    for attr, raw in vars(cls).items():
        if attr.startswith('_'): continue
        if isinstance(raw, property):
            if raw.fget and getattr(raw.fget, '__module__', '').startswith(PKG):
                n += 1
                if not own_doc(raw.fget): out.append(f'{name}.{attr}: property without a docstring')
            continue
        is_static = isinstance(raw, staticmethod)
        f = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
        if not inspect.isfunction(f) or not getattr(f, '__module__', '').startswith(PKG): continue
        n += 1
        out += check_function(f'{name}.{attr}', f, method=not is_static or attr in ('forward', 'backward'))
    return out, n

def main() -> int:
    sys.path.insert(0, str(ROOT))
    pkg = importlib.import_module(PKG)
    problems, n = [], 0
    doc = (pkg.__doc__ or '').strip()
    if len(doc) < 40 or 'Reformer' not in doc:
        problems.append(f'{PKG}.__doc__ must say what the package is (a module docstring in {PKG}/__init__.py), got {doc!r}')
    seen = set()
    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if m.name.startswith('_'): continue
        try: mod = importlib.import_module(f'{PKG}.{m.name}')
        except Exception as e:
            problems.append(f'{m.name}: cannot import {PKG}.{m.name}: {type(e).__name__}: {e}'); continue
        for name in getattr(mod, '__all__', []):
            obj = getattr(mod, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)): continue
            if getattr(obj, '__module__', None) != mod.__name__ or id(obj) in seen: continue
            seen.add(id(obj))
            qual = f'{m.name}.{name}'
            if inspect.isclass(obj):
                p, k = check_class(qual, obj); problems += p; n += k
            else:
                n += 1; problems += check_function(qual, obj, method=False)
    for p in problems: print(p)
    by_mod = {}
    for p in problems: by_mod[p.split('.')[0]] = by_mod.get(p.split('.')[0], 0) + 1
    detail = ', '.join(f'{k} {v}' for k, v in sorted(by_mod.items()))
    print(f'docstrings: {n} public functions, classes, methods and properties checked, {len(problems)} problems'
          + (f' ({detail})' if detail else ''))
    return 1 if problems else 0

if __name__ == '__main__':
    sys.exit(main())
