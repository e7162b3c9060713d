"""Check the docs site as far as this machine can without Quarto: process every notebook as nbdev does
(nbdev's own processing into _proc/), render each processed notebook to HTML with nbconvert (saved outputs, nothing
re-run), and fail on any error, on a notebook missing its title/description/Colab opening, or on a chapter
missing from the sidebar. The HTML lands in _site/ (gitignored) to look at in a browser. It also writes the docs'
"Try the pad" page, nbs/pad/ (generated at every docs build, as the deploy workflow does, never kept in git), and
checks that every page the navbar links to exists.

Usage: python tools/docs_check.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from nb_header import problems  # noqa: E402


def write_docs_pad() -> list[str]:
    "Write nbs/pad with `hasy-nb pad --out` (as the deploy workflow does before nbdev-docs); errors, if any."
    import subprocess
    exe = Path(sys.executable).with_name("hasy-nb")
    r = subprocess.run([str(exe), "pad", "--out", str(ROOT / "nbs" / "pad"), "--force"], capture_output=True, text=True)
    if r.returncode: return [f"hasy-nb pad --out nbs/pad failed: {r.stderr.strip()[-300:]}"]
    quarto = yaml.safe_load((ROOT / "nbs" / "_quarto.yml").read_text())
    links = [x.get("href", "") for side in ("left", "right") for x in quarto["website"]["navbar"].get(side, [])]
    return [f"nbs/_quarto.yml: the navbar links to {h}, which the docs build does not make"
            for h in links if not h.startswith("http") and not (ROOT / "nbs" / h).exists()]


def main() -> int:
    errors = []
    nbs = [p for p in sorted((ROOT / "nbs").rglob("*.ipynb"))
           if not any(part.startswith(("_", ".")) for part in p.relative_to(ROOT / "nbs").parts)]
    for p in nbs:
        errors += [f"{p.relative_to(ROOT)}: {e}" for e in problems(nbformat.read(p, as_version=4))]
    sidebar = yaml.safe_load((ROOT / "nbs" / "sidebar.yml").read_text())
    listed = set()
    def walk(x):
        if isinstance(x, str): listed.add(x)
        elif isinstance(x, dict): [walk(v) for v in x.values()]
        elif isinstance(x, list): [walk(v) for v in x]
    walk(sidebar)
    for p in nbs:
        rel = p.relative_to(ROOT / "nbs").as_posix()
        if rel not in listed: errors.append(f"nbs/sidebar.yml does not list {rel}")
    for rel in sorted(x for x in listed if x.endswith(".ipynb")):
        if not (ROOT / "nbs" / rel).exists(): errors.append(f"nbs/sidebar.yml lists {rel}, which does not exist")
    errors += write_docs_pad()
    # `nbdev-proc-nbs` insists on Quarto before it starts; its processing step itself (nbdev.serve.proc_nbs:
    # directives, show_doc, hidden cells, ...) needs no Quarto, so call it directly
    import warnings
    from nbdev.serve import proc_nbs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cells containing imports and other code": advice, not an error
        try: proc_nbs(path=str(ROOT / "nbs"), force=True, n_workers=0)
        except Exception as e: errors.append(f"processing the notebooks as nbdev does failed: {type(e).__name__}: {e}")
    proc = ROOT / "_proc"
    site = ROOT / "_site"; site.mkdir(exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    for p in nbs:
        rel = p.relative_to(ROOT / "nbs")
        src = proc / rel
        if not src.exists(): errors.append(f"{rel}: not produced by nbdev-proc-nbs"); continue
        try:
            nb = nbformat.read(src, as_version=4)
            for cell in nb.cells:  # nbdev's processing leaves private fields that nbformat's schema rejects
                for k in [k for k in cell if k not in ("cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments")]:
                    del cell[k]
                cell.metadata.pop("execution", None)
            html, _ = exporter.from_notebook_node(nb)
            out = site / rel.with_suffix(".html"); out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(html)
            print(f"ok {rel} -> {out.relative_to(ROOT)} ({len(html) // 1024} KB)")
        except Exception as e:  # any rendering failure is a docs failure
            errors.append(f"{rel}: rendering failed: {type(e).__name__}: {e}")
    for e in errors: print("ERROR", e)
    print(f"docs check: {len(nbs)} pages, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
