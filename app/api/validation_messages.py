"""pydantic's validation errors → one sentence per field, for a person: the field, the value sent and
what is allowed ("stride (layer.stride) is 0; it must be a whole number from 1 to 2,147,483,647, or a
list of 2 of them").

A field that accepts several forms (an int or a pair; an int, a pair, "same" or "valid") fails once per
form, and pydantic names each form in the error's location with its validator chain
("function-after[functools.partial(<function less_than_or_equal_validator at 0x…>, …)]"): those parts
are dropped, the errors of one field are grouped, and each form becomes one alternative of the sentence.
The raw errors stay in the JSON's ``details`` for programs.
"""
from __future__ import annotations

import re
from typing import Any

FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORM_TAGS = ("function-", "list[", "literal[", "tagged-union[", "union[", "constrained-", "json-or-python[")
BASIC_FORMS = {"int", "float", "str", "bool", "list", "dict", "none"}


def _is_form_tag(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith(FORM_TAGS) or part in BASIC_FORMS)


def _split(loc: tuple, body: Any = None) -> tuple[tuple, str | None]:
    """(the field's location without "body", form tags and the tag of a tagged union, the first form tag:
    which alternative failed). A tagged union puts its tag's value in the location ("input.upload.id" for
    {"input": {"kind": "upload"}}): a part that is not a key of the body there but is its "kind" is dropped."""
    field, form, here = [], None, body
    for part in loc:
        if part == "body":
            continue
        if _is_form_tag(part):
            form = form or part
            continue
        if isinstance(here, dict) and part not in here and here.get("kind") == part:
            continue
        if isinstance(part, int) or FIELD.fullmatch(str(part)):
            field.append(part)
            here = here.get(part) if isinstance(here, dict) else (
                here[part] if isinstance(here, list) and isinstance(part, int) and part < len(here) else None)
    return tuple(field), form


def _label(field: tuple) -> str:
    """'kernel size (layer.kernel_size)': the control's words, then the JSON path a program sends."""
    names = [p for p in field if isinstance(p, str)]
    if not names:
        return "the request body"
    path = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in field).replace(".[", "[")
    words = names[-1].replace("_", " ")
    return words if path == names[-1] else f"{words} ({path})"


def _number(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _range(errors: list[dict], noun: str) -> str:
    lo = next((e["ctx"]["ge"] for e in errors if "ge" in e.get("ctx", {})), None)
    hi = next((e["ctx"]["le"] for e in errors if "le" in e.get("ctx", {})), None)
    if lo is not None and hi is not None:
        return f"{noun} from {_number(lo)} to {_number(hi)}"
    if lo is not None:
        return f"{noun} ≥ {_number(lo)}"
    if hi is not None:
        return f"{noun} ≤ {_number(hi)}"
    return noun


def _form_phrase(form: str | None, errors: list[dict], all_errors: list[dict]) -> str:
    types = {e.get("type", "") for e in errors}
    if form and form.startswith("literal["):
        expected = next((e["ctx"]["expected"] for e in errors if "expected" in e.get("ctx", {})), None)
        return expected or "one of the allowed words"
    if form and form.startswith("list["):
        n = next((e["ctx"].get("max_length") or e["ctx"].get("min_length") for e in errors
                  if e.get("type") in ("too_short", "too_long")), None)
        return f"a list of {n} of them" if n else "a list of them"
    if types & {"int_type", "int_parsing", "int_from_float", "greater_than_equal", "less_than_equal"} or (
            form and form.startswith("function-")):
        return _range(all_errors, "a whole number")
    if types & {"float_type", "float_parsing"}:
        return _range(all_errors, "a number")
    return errors[0].get("msg", "invalid").rstrip(".").lower()


def _one_field(field: tuple, errors: list[dict], body: Any) -> str:
    label, first = _label(field), errors[0]
    kind = first.get("type", "")
    if kind == "union_tag_invalid":
        ctx = first.get("ctx", {})
        tag = ctx.get("discriminator", "'kind'").strip("'")
        return (f"{_label((*field, tag))} is {_shown(ctx.get('tag'))}; it must be "
                f"{ctx.get('expected_tags', 'one of the known kinds')}")
    if len(errors) == 1 or kind in ("missing", "extra_forbidden"):
        if kind == "missing":
            return f"{label} is required"
        if kind in ("list_type", "dict_type", "string_type", "bool_type"):
            noun = {"list_type": "a list", "dict_type": "an object", "string_type": "a string", "bool_type": "true or false"}[kind]
            return f"{label} is {_shown(first.get('input'))}; it must be {noun}"
        if kind == "extra_forbidden":
            return f"{label} is not a field of this request (check its spelling)"
        if kind == "literal_error":
            return f"{label} is {_shown(first.get('input'))}; it must be {first['ctx']['expected']}"
        if kind in ("greater_than_equal", "less_than_equal", "int_type", "int_parsing", "int_from_float"):
            return f"{label} is {_shown(first.get('input'))}; it must be {_range(errors, 'a whole number')}"
        if kind in ("too_long", "too_short", "string_too_long"):
            return f"{label}: {first.get('msg', 'invalid').rstrip('.')}"
        return f"{label}: {first.get('msg', 'invalid').rstrip('.')}"
    forms: dict[str | None, list[dict]] = {}
    for e in errors:
        forms.setdefault(_split(tuple(e.get("loc", ())), body)[1], []).append(e)
    phrases = []
    for form, errs in forms.items():
        phrase = _form_phrase(form, errs, errs)
        if phrase not in phrases:
            phrases.append(phrase)
    if "a number" in phrases and "a whole number" in phrases:  # int | float: any number will do
        phrases.remove("a whole number")
    allowed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", or " + phrases[-1]
    return f"{label} is {_shown(first.get('input'))}; it must be {allowed}"


def describe(errors: list[dict], body: Any = None, at_most: int = 5) -> str:
    """One sentence per field that failed (the first ``at_most`` fields), joined with "; ". ``body``: the
    request's parsed JSON, to tell a tagged union's tag from a field name."""
    fields: dict[tuple, list[dict]] = {}
    for e in errors:
        fields.setdefault(_split(tuple(e.get("loc", ())), body)[0], []).append(e)
    # an error inside one alternative's list ("stride[0]") belongs to the field that holds the list
    merged: dict[tuple, list[dict]] = {}
    for field, errs in fields.items():
        parent = field[:-1] if field and isinstance(field[-1], int) and field[:-1] in fields else field
        merged.setdefault(parent, []).extend(errs)
    return "; ".join(_one_field(f, errs, body) for f, errs in list(merged.items())[:at_most])
