"""Give every notebook the standard opening: title + one-line description, an "Open in Colab" badge and the
Colab set-up cell. `--check` only reports notebooks that are missing them (CI runs it), without writing.

Usage: python tools/nb_header.py [--check]
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
REPO = "hasy-nb/hasy_nb"
BADGE_MARK = "colab.research.google.com/github/"
SETUP_MARK = "# Colab set-up:"
IMPORTS = "#| hide\nimport os, subprocess, sys"   # its own cell: nbdev's docs run cells that only import
SETUP = '''#| hide
# Colab set-up: in Google Colab this installs hasy_nb (on a TPU runtime also the torch_xla that matches
# Colab's torch) and turns on custom widgets; anywhere else it does nothing.
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "hasy_nb[tune]"], check=True)
    if os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME") or os.path.exists("/dev/accel0"):
        import torch
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        f"torch_xla[tpu]=={torch.__version__.split('+')[0]}"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()'''


def badge(nb_path: Path) -> str:
    rel = nb_path.relative_to(ROOT).as_posix()
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/{rel}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def problems(nb) -> list[str]:
    "What the notebook's opening lacks."
    cells = nb.cells
    out = []
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.lstrip().startswith("# "):
        out.append("first cell is not a markdown '# Title'")
    elif "\n> " not in "\n" + cells[0].source: out.append("title cell has no '> one-line description'")
    if not any(c.cell_type == "markdown" and BADGE_MARK in c.source for c in cells[:4]): out.append("no Open in Colab badge")
    if not any(c.cell_type == "code" and SETUP_MARK in c.source for c in cells[:6]): out.append("no Colab set-up cell")
    return out


def fix(path: Path, nb) -> bool:
    "Insert the badge and set-up cell after the title (and the default_exp cell); return True if changed."
    changed = False
    cells = nb.cells
    pos = 1 if cells and cells[0].cell_type == "markdown" else 0
    if len(cells) > pos and cells[pos].cell_type == "code" and "default_exp" in cells[pos].source: pos += 1
    badges = [c for c in cells[:4] if c.cell_type == "markdown" and BADGE_MARK in c.source]
    if not badges:
        cells.insert(pos, nbformat.v4.new_markdown_cell(badge(path))); changed = True
    elif badges[0].source != badge(path): badges[0].source = badge(path); changed = True
    setups = [c for c in cells[:6] if c.cell_type == "code" and SETUP_MARK in c.source]
    if not setups:
        cells.insert(pos + 1, nbformat.v4.new_code_cell(SETUP)); changed = True
        setups = [cells[pos + 1]]
    elif setups[0].source != SETUP: setups[0].source = SETUP; changed = True
    at = cells.index(setups[0])
    if cells[at - 1].source != IMPORTS:                                 # the set-up's imports, in the cell before it
        cells.insert(at, nbformat.v4.new_code_cell(IMPORTS)); changed = True
    return changed


def main() -> int:
    check = "--check" in sys.argv
    bad = 0
    for path in sorted((ROOT / "nbs").rglob("*.ipynb")):
        if any(p.startswith((".", "_")) for p in path.relative_to(ROOT / "nbs").parts): continue
        nb = nbformat.read(path, as_version=4)
        if check:
            for p in problems(nb): print(f"{path.relative_to(ROOT)}: {p}"); bad += 1
        elif fix(path, nb):
            nbformat.write(nb, path); print(f"updated {path.relative_to(ROOT)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
