"""The pad's two LaTeX helpers exist in both languages (the page has no Python): pad.js's packagesFor and documentFor
must give what hasy_nb.app's packages_for and EquationBuilder.document give, on the page's own symbols.json. Node
runs pad.js; without Node this fails (a skipped parity test would hide a drifted twin)."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

PAD = Path(__file__).resolve().parents[1] / "hasy_nb" / "assets" / "pad"
NODE = shutil.which("node")
SOURCES = ["", r"\alpha + \beta", r"\mathds{1}_{A} \male", r"\text{if } x \therefore y", r"\guillemotleft \mathscr{A}",
           r"\mathds{1} \mathds{1} \text{a}", r"\textalpha \alpha", r"\sum_{i=1}^{n} \int_0^1 \oint"]


@pytest.fixture(scope="module")
def js_answers(tmp_path_factory) -> list[dict]:
    assert NODE, "Node.js is required (bash tools/install_system.sh, the README's set-up)"
    from hasy_nb.export import symbols_table
    d = tmp_path_factory.mktemp("padjs")
    (d / "symbols.json").write_text(json.dumps(symbols_table()))
    (d / "sources.json").write_text(json.dumps(SOURCES))
    script = f"""
import {{ readFileSync }} from "node:fs";
const pad = await import({json.dumps((PAD / "pad.js").as_uri())});
const symbols = JSON.parse(readFileSync({json.dumps(str(d / "symbols.json"))}, "utf8"));
const sources = JSON.parse(readFileSync({json.dumps(str(d / "sources.json"))}, "utf8"));
console.log(JSON.stringify(sources.map((s) => {{ const p = pad.packagesFor(s, symbols); return {{ packages: p, document: pad.documentFor(s, p) }}; }})));
"""
    (d / "run.mjs").write_text(script)
    r = subprocess.run([NODE, str(d / "run.mjs")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_packages_and_document_as_python(js_answers):
    from hasy_nb.app import EquationBuilder, packages_for
    assert any(a["packages"] for a in js_answers)                       # the sources do need packages
    for source, js in zip(SOURCES, js_answers):
        assert js["packages"] == packages_for(source), source
        eq = EquationBuilder(source)
        assert js["document"] == eq.document(), source
