"""The page scripts keep to the shell (issue 11 §4): network calls only through api.js, one number
formatter (format.js, never toLocaleString, whose output depends on the visitor's locale), and the
shared shell (shell.js) for state, URL, loads and the player. Each page adds its script to
SHELL_PAGES when it moves onto the shell; the formatter and link builders are checked in Chromium."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import ready

JS = Path(__file__).resolve().parent.parent / "static" / "js"
# Every page script: each is on the shell now.
SHELL_PAGES = ["conv.js", "pointwise.js", "index.js", "cost.js", "network.js", "receptive.js", "transposed.js", "learn.js"]
NETWORK_DOOR = "api.js"  # the one module allowed to call fetch


def code(name: str) -> str:
    """The script without its comments, so a comment that names fetch or toLocaleString is no hit."""
    return strip_comments((JS / name).read_text())


REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")  # a "/" after one of these (or a line start) opens a regex literal


def strip_comments(src: str) -> str:
    """JavaScript without its comments, by a small tokenizer: strings ('…', "…"), template literals with
    nested ${…} code, and regex literals are skipped whole, so "/*" or "//" inside any of them, or "/*"
    inside a // comment, never starts a comment (the old regexes ate code after a comment naming
    "/api/pointwise/*"). A comment becomes one space; a block comment keeps its newlines."""
    out, i, n = [], 0, len(src)
    braces = []  # for each open ${ of a template literal: the depth of {} inside it
    prev = ""    # the last significant (non-space) code character, to tell a regex from a division

    def skip_quoted(j: int, quote: str) -> int:  # from the opening quote to past the closing one
        j += 1
        while j < n and src[j] != quote:
            if src[j] == "\\":
                j += 1
            elif src[j] == "\n" and quote != "`":
                return j  # an unterminated '…' or "…" ends at the line (it cannot span lines)
            elif quote == "`" and src.startswith("${", j):
                return j  # code inside the template: the caller resumes the tokenizer there
            j += 1
        return j + 1

    while i < n:
        c = src[i]
        if c == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
            continue
        if c == "/" and src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(" " + "\n" * src.count("\n", i, j))
            i = j
            continue
        if c == "/" and (prev == "" or prev in REGEX_AFTER
                         or re.search(r"\b(return|typeof|case|in|of)\s*$", "".join(out[-16:])[-16:])):
            j, in_class = i + 1, False
            while j < n and src[j] != "\n" and (in_class or src[j] != "/"):
                if src[j] == "\\":
                    j += 1
                elif src[j] == "[":
                    in_class = True
                elif src[j] == "]":
                    in_class = False
                j += 1
            j += 1
            while j < n and src[j].isalpha():  # flags
                j += 1
            out.append(src[i:j])
            prev, i = "/", j
            continue
        if c in "'\"`":
            j = skip_quoted(i, c)
            out.append(src[i:j])
            if c == "`" and src.startswith("${", j):
                out.append("${")
                braces.append(0)
                j += 2
            prev, i = c, j
            continue
        if c == "{" and braces:
            braces[-1] += 1
        elif c == "}" and braces:
            if braces[-1] == 0:  # the end of a ${…}: back inside the template literal
                braces.pop()
                j = i  # src[j] is "}", and skip_quoted starts after it, as after an opening backtick
                k = skip_quoted(j, "`")
                out.append(src[i:k])
                if src.startswith("${", k):
                    out.append("${")
                    braces.append(0)
                    k += 2
                prev, i = "`", k
                continue
            braces[-1] -= 1
        out.append(c)
        if not c.isspace():
            prev = c
        i += 1
    return "".join(out)


# A ratchet: these still GET with fetch (api.js has getJSON for that now); take a page off the list when
# it moves, and the test below then holds it to the rule (it fails if a listed page no longer fetches).
STILL_FETCHING: list[str] = []


@pytest.mark.parametrize("name", SHELL_PAGES)
def test_a_shell_page_uses_the_shell_and_nothing_else(name):
    src = code(name)
    assert re.search(r"""import \{[^}]*createShell[^}]*\} from "\./shell\.js";""", src), f"{name} must use shell.js"
    fetches = bool(re.search(r"\bfetch\s*\(", src))
    assert fetches == (name in STILL_FETCHING), f"{name}: calls fetch = {fetches}; network calls go through api.js"
    assert "toLocaleString" not in src, f"{name} formats with toLocaleString: use format.js"
    for retired in ("ui.js", "urlstate.js"):
        assert f'"./{retired}"' not in src, f"{name} imports {retired}; the shell replaces it"
    assert "history.replaceState" not in src and "URLSearchParams" not in src, f"{name} writes the URL itself"


def test_only_api_js_calls_fetch_among_the_shared_modules():
    shared = ["shell.js", "links.js", "keys.js", "inputs.js", "weight_editor.js", "format.js", "plots.js"]
    for name in shared:
        assert not re.search(r"\bfetch\s*\(", code(name)), f"{name} calls fetch: go through {NETWORK_DOOR}"
        assert "toLocaleString" not in code(name), name


def test_the_formatter_boundaries_in_the_browser(page, live_server):
    """STYLE.md §10: K = 1,000 (SI), boundaries 999 / 1,000 / 999,999; exact integers with commas."""
    page.goto(live_server + "/glossary")
    got = page.evaluate("""async () => { const f = await import('/static/js/format.js');
        return [999, 1000, 999999, 1000000, 1234567].map((n) => [f.formatCount(n), f.formatInt(n)]); }""")
    assert got == [["999", "999"], ["1.00K", "1,000"], ["1.00M", "999,999"], ["1.00M", "1,000,000"],
                   ["1.23M", "1,234,567"]]


def test_bytes_are_written_with_a_space_before_the_unit(page, live_server):
    """formatBytes wrote "697KB", "8.39MB": SI style puts a space between the number and its unit."""
    page.goto(live_server + "/glossary")
    got = page.evaluate("""async () => { const f = await import('/static/js/format.js');
        return [0, 999, 1000, 697 * 1000, 999999, 8.39e6, 2.5e9].map(f.formatBytes); }""")
    assert got == ["0 B", "999 B", "1.00 KB", "697 KB", "1.00 MB", "8.39 MB", "2.50 GB"]


def test_links_open_conv_on_the_layer_they_describe(page, live_server):
    """links.convUrl(request) opens /conv showing that layer: the page's layer check agrees with the API's."""
    req = {"input": {"kind": "random", "shape": [8, 20, 24], "seed": 3, "distribution": "normal"},
           "layer": {"out_channels": 6, "kernel_size": [5, 3], "stride": 2, "padding": [2, 1], "groups": 2},
           "weights": {"kind": "random", "seed": 7}}
    page.goto(live_server + "/glossary")
    url = page.evaluate("async (req) => (await import('/static/js/links.js')).convUrl(req)", req)
    page.goto(live_server + url)
    ready(page)
    check = httpx.post(live_server + "/api/layer/check", json=req).json()
    assert f"[{'×'.join(map(str, check['output_shape']))}]" in page.inner_text("#layer-message")
    assert page.input_value("#groups") == "2" and page.input_value("#kernel-h") == "5"
    assert page.eval_on_selector_all("#groups option", "os => os.map(o => Number(o.value))") == check["allowed_groups"]
    layer_url = page.evaluate("""async () => { const l = await import('/static/js/links.js');
        return [l.layerUrl({input: {kind: 'sample', name: 'edges'}, layer: {kernel_size: 1, out_channels: 2}}),
                l.layerUrl({input: {kind: 'sample', name: 'edges'}, layer: {kernel_size: 3}})]; }""")
    assert layer_url[0].startswith("/pointwise?") and layer_url[1].startswith("/conv?")
    assert page.watch.errors == []


@pytest.mark.parametrize("layer", [
    {"kernel_size": 3, "padding": 1},
    {"kernel_size": [5, 3], "stride": 2, "padding": [2, 0], "dilation": [1, 2]},
    {"kernel_size": 4, "stride": 3, "padding": "valid", "dilation": 2},
    {"kernel_size": 2, "padding": "same"},
])
def test_the_drag_mapping_agrees_with_the_apis_windows(page, live_server, layer):
    """conv_draw.outputAt maps a point of the whole-input view to an output pixel (the one JS formula of
    /conv, STYLE.md §7): its window, as /api/trace reports it, is centred nearest the point."""
    req = {"input": {"kind": "random", "shape": [1, 23, 29], "seed": 1}, "layer": {"out_channels": 1, **layer}}
    check = httpx.post(live_server + "/api/layer/check", json=req).json()
    _, h, w = check["output_shape"]
    points = [(0, 0), (5, 7), (11, 14), (22, 28), (17, 3)]
    page.goto(live_server + "/glossary")
    got = page.evaluate("""async ([layer, shape, points]) => { const d = await import('/static/js/conv_draw.js');
        return points.map((p) => d.outputAt(layer, shape, p)); }""", [check["layer"], check["output_shape"], points])
    positions = [{"channel": 0, "row": i, "col": j} for i in range(h) for j in range(w)]
    traces = httpx.post(live_server + "/api/trace", json={**req, "positions": positions}).json()["traces"]
    centre = {(t["row"], t["col"]): (sum(t["input_rows"]) / len(t["input_rows"]), sum(t["input_cols"]) / len(t["input_cols"]))
              for t in traces}
    for (r, c), (i, j) in zip(points, got):
        best_r = min(abs(centre[k, j][0] - r) for k in range(h))
        best_c = min(abs(centre[i, k][1] - c) for k in range(w))
        assert abs(centre[i, j][0] - r) <= best_r + 1e-9 and abs(centre[i, j][1] - c) <= best_c + 1e-9, (r, c, i, j)


@pytest.mark.parametrize("src, kept, gone", [
    ('// see /api/pointwise/*\nfetch(1);', ["fetch(1);"], ["pointwise"]),  # "/*" inside a // comment
    ('const a = "/* not a comment */"; fetch(2);', ['"/* not a comment */"', "fetch(2);"], []),
    ("const u = 'http://x'; fetch(3); // fetch(gone)", ["'http://x'", "fetch(3);"], ["gone"]),
    ("/* fetch(gone)\n // still in the block */ fetch(4);", ["fetch(4);"], ["gone", "still"]),
    ("const t = `a ${ f(\"}\") } /* in the template */ b ${x}`; fetch(5);", ["/* in the template */", "fetch(5);"], []),
    ("const t = `${ `inner ${ y /* gone */ }` }`; fetch(6);", ["inner", "fetch(6);"], ["gone"]),
    ('s.replace(/[/*"]/g, ""); fetch(7); // gone', ['/[/*"]/g', "fetch(7);"], ["gone"]),
    ("const half = w / 2; // gone\nconst q = h / 4 /* gone too */; fetch(8);", ["w / 2;", "h / 4", "fetch(8);"], ["gone"]),
    ("if (x) return /\\/\\*/.test(s); fetch(9);", ["/\\/\\*/.test(s);", "fetch(9);"], []),
])
def test_the_comment_stripper_is_not_fooled(src, kept, gone):
    out = strip_comments(src)
    for k in kept:
        assert k in out, (src, out)
    for g in gone:
        assert g not in out, (src, out)


def test_stripping_keeps_every_page_scripts_code():
    """Stripped, every script keeps its lines (a block comment keeps its newlines) and every import and
    export statement: no string, template or regex made the tokenizer swallow code."""
    statement = re.compile(r"^(import|export) [\w{}*, ]*")
    for path in sorted(JS.glob("*.js")):
        if path.name.startswith("plotly"):
            continue
        src = path.read_text()
        out = strip_comments(src)
        assert out.count("\n") == src.count("\n"), path.name
        before = [m.group() for m in map(statement.match, src.splitlines()) if m]
        after = [m.group() for m in map(statement.match, out.splitlines()) if m]
        assert after == before, path.name
