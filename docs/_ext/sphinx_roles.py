"""Griffe extension: render the reST roles of our docstrings as cross-references.

The code's docstrings use ``:class:`Provider``` style roles and ``Example::``
blocks. mkdocstrings renders Markdown, so each role becomes an optional autoref
(a link when the target is documented on the site, plain code otherwise; an
optional reference never fails the strict build), and ``::`` that opens a
literal block becomes ``:``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|exc|mod|data|obj|const):`(~?)([^`<>]+?)`")
_LITERAL = re.compile(r"(\S)::$", re.MULTILINE)


def _target(obj: griffe.Object, name: str) -> str:
    """The full path of ``name`` as seen from ``obj``'s scope (``name`` itself when unknown)."""
    if name.startswith("unified_sdk"):
        return name
    first, _, rest = name.partition(".")
    scope: griffe.Object | None = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        try:
            resolved = scope.resolve(first)
        except (griffe.NameResolutionError, AttributeError):
            scope = scope.parent
            continue
        return f"{resolved}.{rest}" if rest else resolved
    return name


def _rewrite(obj: griffe.Object, text: str) -> str:
    def link(match: re.Match[str]) -> str:
        short, name = match.group(1), match.group(2).strip()
        shown = name.rsplit(".", 1)[-1] if short else name
        return f'<autoref identifier="{_target(obj, name)}" optional><code>{shown}</code></autoref>'

    return _LITERAL.sub(r"\1:", _ROLE.sub(link, text))


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring of a loaded package (all its members are known by then)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[str] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.path in seen:
                continue
            seen.add(obj.path)
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj, obj.docstring.value)
            stack.extend(member for member in obj.members.values() if isinstance(member, griffe.Object))
