"""One Jinja environment for every target: strict, unescaped, and quoting only through filters.

The exception is HTML: templates named `*.html.j2` autoescape, so every value they print is escaped unless it
is marked safe (`markupsafe.Markup`) by the code that made it.
"""

from __future__ import annotations

import html
import json
import math
import re
import shlex
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from mlform.runtime.htmlpage import code_text
from mlform.specs.errors import RenderError

from .bytecode import template_cache
from .yamlemit import OTHER_READERS_TYPED, emit

__all__ = ["TEMPLATE_PACKAGE", "Templates", "dump_yaml", "environment", "htmlspans", "mdspans", "mdtext", "pyrepr",
           "pyyaml_dump", "shquote", "tojson"]

TEMPLATE_PACKAGE = "mlform.templates"
_LITERALS = (str, int, float, bool, type(None))
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]|~])")  # inline syntax; block syntax needs a line start
_CODE_SPAN = re.compile(r"`([^`]+)`")


class _YamlDumper(yaml.SafeDumper):
    """Block style, keys in the order given; multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and _block_safe(value) else "'" if OTHER_READERS_TYPED.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _block_safe(value: str) -> bool:
    """A literal block keeps `value` exactly only without trailing spaces, tabs or odd line breaks."""
    lines = value.split("\n")
    return all(line == line.rstrip(" \t") and line.isprintable() for line in lines) and not value.startswith(" ")


_YamlDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """`data` as one YAML document: block style, insertion order, Unicode kept, no line folding."""
    fast = emit(data)  # the same bytes, written by the narrow emitter when `data` is in its subset
    if fast is not None:
        return fast
    return pyyaml_dump(data)


def pyyaml_dump(data: Any) -> str:
    """`dump_yaml` by PyYAML's pure-Python emitter (the narrow one's reference)."""
    return yaml.dump(data, Dumper=_YamlDumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=math.inf)


def tojson(value: Any) -> str:
    """A JSON literal of `value`: keys sorted, non-ASCII escaped, so it is safe on one line."""
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def pyrepr(value: Any) -> str:
    """A Python literal of `value` (strings, numbers, booleans, None, lists and dicts of them)."""
    _check_literal(value)
    return repr(value)


def _check_literal(value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_literal(key)
            _check_literal(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_literal(item)
    elif not isinstance(value, _LITERALS) or (isinstance(value, float) and not math.isfinite(value)):
        msg = f"cannot write {type(value).__name__} `{value!r}` as a Python literal"
        raise TypeError(msg)


def shquote(value: Any) -> str:
    """`value` as one POSIX shell word."""
    return shlex.quote(str(value))


def _md_escaped(text: str) -> str:
    """`text` with HTML and inline Markdown syntax escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def mdtext(value: Any) -> str:
    """`value` as literal inline Markdown, safe in a table cell: HTML and Markdown syntax escaped, one line."""
    return _md_escaped(" ".join(str(value).split()))


def _code_span(code: str) -> str:
    # a code span shows its text as is (HTML included); only a table's cell splitter reads `\|` inside it
    body = code.replace("|", "\\|")
    return f"` {body} `" if body.startswith(" ") and body.endswith(" ") and body.strip() else f"`{body}`"


def mdspans(value: Any) -> str:
    """A message's `code` spans as Markdown code spans and the rest as `mdtext`; one line, safe in a table cell."""
    text = " ".join(str(value).split())
    parts, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts += [_md_escaped(text[last:span.start()]), _code_span(span.group(1))]
        last = span.end()
    return "".join([*parts, _md_escaped(text[last:])])


def htmlspans(value: Any) -> Markup:
    """A message as HTML for an autoescaping template: its `code` spans as `<code>`, every character escaped."""
    return Markup(code_text(str(value)))


class _PackageLoader(jinja2.BaseLoader):
    """Templates shipped as package data, read through importlib.resources (works from wheels and zips)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        node = resources.files(TEMPLATE_PACKAGE)
        for part in template.split("/"):
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), None, lambda: True


def environment(override: Path | None = None) -> jinja2.Environment:
    """The Jinja environment; templates in `override` (same `<target>/<name>.j2` layout) win by name."""
    loaders: list[jinja2.BaseLoader] = [_PackageLoader()]
    if override is not None:
        loaders.insert(0, jinja2.FileSystemLoader(str(override), encoding="utf-8"))
    autoescape = jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False)
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=autoescape, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             bytecode_cache=template_cache(Path(__file__)))
    env.filters.update(tojson=tojson, pyrepr=pyrepr, shquote=shquote, yaml=dump_yaml, md=mdtext,
                       mdspans=mdspans, htmlspans=htmlspans)
    return env


class Templates:
    """Renders `<target>/<name>.j2` templates; any failure becomes a RenderError naming template and target."""

    def __init__(self, override: Path | None = None) -> None:
        self.env = environment(override)

    def render(self, target: str, template: str, /, **context: Any) -> str:
        """Render template `template` of `target` with `context`."""
        template_name = f"{target}/{template}.j2"
        try:
            return self.env.get_template(template_name).render(**context)
        except jinja2.TemplateNotFound as exc:
            msg = f"target `{target}`: template `{template_name}` not found ({exc.message})"
            raise RenderError(msg) from None
        except jinja2.TemplateSyntaxError as exc:
            msg = f"target `{target}`: template `{template_name}` line {exc.lineno}: {exc.message}"
            raise RenderError(msg) from None
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            msg = f"target `{target}`: template `{template_name}` failed: {exc}"
            raise RenderError(msg) from None
