"""The symbol table (hasy_nb.symbols): regenerating assets/symbols.json from its sources gives the shipped file, and
its fields agree with the standard tables they come from."""
import json
import os
import unicodedata
from pathlib import Path

import pytest

from hasy_nb.infer import pretrained_info
from hasy_nb.weights import asset_path
from hasy_nb.symbols import build_symbol_table, symbol, symbol_table, symbol_table_json

needs_data = pytest.mark.skipif(not os.environ.get("HASY_ARCHIVE"), reason="needs the real HASYv2 archive (HASY_ARCHIVE)")


@needs_data
def test_regenerating_gives_the_shipped_file():
    from hasy_nb.data import load_hasy
    shipped = asset_path("symbols.json").read_text(encoding="utf-8")
    assert symbol_table_json(build_symbol_table(load_hasy())) == shipped


def test_rows_follow_the_class_order():
    assert [r["latex"] for r in symbol_table()] == pretrained_info()["latex"]
    assert [r["index"] for r in symbol_table()] == list(range(369))


def test_names_and_code_points_agree_with_unicodedata():
    for r in symbol_table():
        if r["unicode"]:
            assert r["name"] == unicodedata.name(r["unicode"]), r["latex"]
            assert r["codepoint"] == f"U+{ord(r['unicode']):04X}", r["latex"]
        else:
            assert r["name"] == r["codepoint"] == r["unicode_from"] == "", r["latex"]


def test_coverage_of_the_sources():
    rows = symbol_table()
    assert sum(r["unicode_from"] == "pylatexenc" for r in rows) == 316
    assert sum(r["unicode_from"] == "typst" for r in rows) == 26
    assert sum(r["typst"] != "" for r in rows) == 321


def test_known_rows():
    assert symbol(r"\rightarrow")["unicode"] == "→"
    assert symbol(r"\rightarrow")["typst"] == "->"
    assert symbol(r"\subseteq")["typst"] == "subset.eq"
    assert symbol(r"\checkmark")["unicode_from"] == "typst"
    assert symbol(r"\varkappa")["package"] == "amssymb"
    assert symbol(r"\mathds{N}")["unicode"] == ""            # pylatexenc says "N": the font is lost, so none
    assert symbol(r"\varpropto")["typst"] == ""              # tex2typst passes it through; Typst has no such name


def test_lookalikes_are_real_confusions():
    rows = symbol_table()
    for r in rows:
        assert len(r["lookalikes"]) <= 3
        assert all(a["count"] >= 2 and 0 < a["share"] <= 1 for a in r["lookalikes"]), r["latex"]
        assert [a["count"] for a in r["lookalikes"]] == sorted((a["count"] for a in r["lookalikes"]), reverse=True)
    assert "O" in [a["latex"] for a in symbol("0")["lookalikes"]] or r"\circ" in [a["latex"] for a in symbol("0")["lookalikes"]]


def test_unknown_symbol_is_one_clear_error():
    with pytest.raises(KeyError, match="not one of HASY's 369 classes"):
        symbol(r"\foo")


def test_file_is_one_class_per_line():
    text = asset_path("symbols.json").read_text(encoding="utf-8")
    assert len(json.loads(text)["symbols"]) == 369
    assert sum(line.startswith('{"index": ') for line in text.splitlines()) == 369


SHARED_GROUPS = Path(__file__).resolve().parent.parent.parent / "shared/data/confusable-classes.yml"


@pytest.mark.skipif(not SHARED_GROUPS.exists(), reason="needs ../shared/data/confusable-classes.yml")
def test_confusable_groups_are_the_authors():
    from hasy_nb.evaluate import confusable_groups
    assert confusable_groups() == confusable_groups(SHARED_GROUPS)      # the shipped copy only adds a header
    groups = confusable_groups(SHARED_GROUPS)
    for r in symbol_table():
        mates = {s for g in groups if r["latex"] in g for s in g} - {r["latex"]}
        assert set(r["confusable"]) == mates, r["latex"]
