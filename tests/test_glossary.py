"""The glossary: one definition per term, every term a template uses exists, and /glossary lists all."""
from __future__ import annotations

import re
from pathlib import Path

from app.glossary import TERMS

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_term_used_by_a_template_is_defined():
    used = {m for f in TEMPLATES.glob("*.html") for m in re.findall(r"term\(\"(\w+)\"", f.read_text())}
    assert used <= set(TERMS), sorted(used - set(TERMS))


def test_glossary_page_lists_every_term_with_an_anchor(client):
    html = client.get("/glossary").text
    for t in TERMS.values():
        assert f'<dt id="{t.key}">' in html


def test_term_macro_links_to_the_entry_and_carries_the_definition(client):
    from app.api.pages import templates
    macro = templates.env.from_string('{% from "_glossary.html" import term %}{{ term("mac", "MACs") }}')
    html = macro.render()
    assert 'href="/glossary#mac"' in html and ">MACs</a>" in html
    assert "multiply-accumulate" in html
