"""README.md from nbs/index.ipynb, as `nbdev-readme` would make it with Quarto (which cannot be installed here).

Markdown cells are copied (their links to chapters and images made relative to the repository's root); code cells become ```python blocks followed by their saved text/markdown output;
cells marked `#| hide` are left out and `#|` directives are dropped. `--check` fails if README.md differs.

Usage: python tools/make_readme.py [--check]
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LOCAL_LINK = re.compile(r"\]\((?!https?:|#|/)([^)\s]+\.(?:ipynb|png))\)")   # the notebooks' own links, from the root
NOTE = "<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file -->\n\n"


def directives(src: str) -> dict[str, str]:
    return {l[3:].strip().split(":")[0].split(" ")[0]: l for l in src.splitlines() if l.startswith("#|")}


def output_text(out) -> str | None:
    data = out.get("data", {})
    if "text/markdown" in data: return "".join(data["text/markdown"]).strip() + "\n"
    if out.get("output_type") == "stream": text = out.get("text", "")
    elif "text/plain" in data: text = data["text/plain"]
    else: return None
    text = "".join(text).rstrip()
    return f"```\n{text}\n```\n" if text else None


def render(nb) -> str:
    parts = [NOTE]
    for cell in nb.cells:
        d = directives(cell.source)
        if "hide" in d or "exporti" in d or "default_exp" in d: continue
        if cell.cell_type == "markdown":
            parts.append(LOCAL_LINK.sub(r"](nbs/\1)", cell.source.strip()) + "\n")
        elif cell.cell_type == "code":
            code = "\n".join(l for l in cell.source.splitlines() if not l.startswith("#|")).strip()
            if code and "echo: false" not in cell.source: parts.append(f"```python\n{code}\n```\n")
            for out in cell.get("outputs", []):
                text = output_text(out)
                if text: parts.append(text)
    return "\n".join(parts)


def main() -> int:
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    text = render(nb)
    readme = ROOT / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            print("README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`")
            return 1
        print("README.md matches nbs/index.ipynb")
        return 0
    readme.write_text(text)
    print("wrote README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
