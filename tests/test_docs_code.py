"""The Python code in README.md, docs/ and the providers' READMEs passes ``mypy --strict``.

Every ```python block becomes its own module in a temporary folder, and one mypy
run checks them all. Blocks are often fragments, so each module starts with
``from docs_preamble import *`` (``tests/docs_preamble.pyi``: ``client``,
``conn``, ``server``, ``callback_url``). An HTML comment right above
a block (blank lines may stand between) tunes it::

    <!-- typecheck: skip -->            not Python that runs (pseudo code, a shell session)
    <!-- typecheck: async -->           the block's body runs inside an ``async def`` (``await``, ``return``)
    <!-- typecheck
    from datetime import datetime      hidden lines prepended to the block
    yesterday: datetime
    -->

Flags and hidden lines combine: ``<!-- typecheck: async`` then lines, then ``-->``.
Errors are reported at the line of the Markdown file they come from.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parent.parent
PREAMBLE = Path(__file__).resolve().parent / "docs_preamble.pyi"
CACHE_DIR = ROOT / ".mypy_cache"
FLAGS = frozenset({"skip", "async"})

_FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+\.pyi?):(?P<line>\d+): (?P<kind>error|note): (?P<message>.*)$")


class DocsCodeError(ValueError):
    """A Markdown file whose code blocks cannot be read (an unclosed fence, an unknown flag)."""


@dataclass(frozen=True)
class Snippet:
    """One ```python block and what its ``<!-- typecheck ... -->`` comment said."""

    source: str
    """The Markdown file, relative to the repository."""
    line: int
    """The file's line number of the block's first line of code."""
    code: str
    preamble: str = ""
    preamble_line: int = 0
    """The file's line number of the first hidden line (errors in the preamble are shown there)."""
    wrap_async: bool = False
    skip: bool = False

    @property
    def module_name(self) -> str:
        stem = re.sub(r"\W+", "_", self.source).strip("_").lower()
        return f"snippet_{stem}_l{self.line}"

    def module(self) -> tuple[str, int, int]:
        """The module's text, its number of lines before the preamble and before the block."""
        head = "from docs_preamble import *  # noqa: F403\n"
        preamble = self.preamble + ("\n" if self.preamble and not self.preamble.endswith("\n") else "")
        code = self.code
        if self.wrap_async:
            head += "from typing import Any as _Any\n"
            code = "async def _snippet() -> _Any:\n" + textwrap.indent(code, "    ", lambda _line: True)
        body_offset = head.count("\n") + preamble.count("\n") + (1 if self.wrap_async else 0)
        return head + preamble + code, head.count("\n"), body_offset


def _comment_before(lines: list[str], index: int) -> tuple[str, int] | None:
    """The ``<!-- ... -->`` that ends on the last non-blank line before ``index``, and its first line."""
    end = index - 1
    while end >= 0 and not lines[end].strip():
        end -= 1
    if end < 0 or not lines[end].rstrip().endswith("-->"):
        return None
    start = end
    while start >= 0 and "<!--" not in lines[start]:
        start -= 1
    if start < 0:
        return None
    text = "\n".join(lines[start : end + 1]).strip()
    return text[text.index("<!--") + 4 : -3], start


def extract_snippets(text: str, source: str) -> list[Snippet]:
    """The ```python (or ```py) blocks of a Markdown text, with their typecheck options."""
    lines = text.splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = opening["info"].split()[0].lower() if opening["info"].split() else ""
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            end += 1
        else:
            raise DocsCodeError(f"{source}:{index + 1}: code block never closed")
        if language in ("python", "py"):
            code = "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[index + 1 : end])
            snippets.append(_with_options(Snippet(source, index + 2, code + "\n"), lines, index))
        index = end + 1
    return snippets


def _with_options(snippet: Snippet, lines: list[str], index: int) -> Snippet:
    found = _comment_before(lines, index)
    if found is None:
        return snippet
    comment, start = found
    first, _, rest = comment.strip("\n").partition("\n")
    words = first.strip()
    if not words.startswith("typecheck"):
        return snippet
    words = words.removeprefix("typecheck").strip()
    flags = set(words.removeprefix(":").split()) if words.startswith(":") else set()
    if words and not words.startswith(":"):
        raise DocsCodeError(f"{snippet.source}:{start + 1}: write 'typecheck: FLAGS', not {first.strip()!r}")
    unknown = flags - FLAGS
    if unknown:
        raise DocsCodeError(f"{snippet.source}:{start + 1}: unknown typecheck flag(s) {sorted(unknown)}")
    return Snippet(
        snippet.source,
        snippet.line,
        snippet.code,
        preamble=textwrap.dedent(rest),
        preamble_line=start + 2,
        wrap_async="async" in flags,
        skip="skip" in flags,
    )


def _mypy_config(workdir: Path) -> Path:
    """strict, with the project's per-module overrides, finding the work tree's packages first."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    search = [workdir, ROOT, *sorted(p for p in (ROOT / "providers").iterdir() if (p / "pyproject.toml").exists())]
    text = [
        "[mypy]",
        "strict = True",
        f"python_version = {project.get('python_version', '3.11')}",
        "warn_unused_ignores = True",
        f"mypy_path = {','.join(str(p) for p in search)}",
    ]
    for override in project.get("overrides", []):
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        text.append(f"[mypy-{','.join(modules)}]")
        text += [f"{key} = {value}" for key, value in override.items() if key != "module"]
    config = workdir / "mypy.ini"
    config.write_text("\n".join(text) + "\n")
    return config


def typecheck(snippets: list[Snippet], workdir: Path, *, cache_dir: Path = CACHE_DIR) -> list[str]:
    """Run mypy --strict once over every snippet; its errors, at the Markdown lines they come from.

    The cache is the project's mypy cache by default: checking the snippets means checking
    what they import (the SDK, pydantic, SQLAlchemy, starlette...), which takes half a minute cold.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "docs_preamble.pyi").write_text(PREAMBLE.read_text())
    where: dict[str, tuple[Snippet, int, int]] = {}
    files: list[str] = []
    for snippet in snippets:
        if snippet.skip:
            continue
        text, preamble_offset, body_offset = snippet.module()
        path = workdir / f"{snippet.module_name}.py"
        path.write_text(text)
        where[path.name] = (snippet, preamble_offset, body_offset)
        files.append(str(path))
    if not files:
        return []
    config = _mypy_config(workdir)
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(config), "--cache-dir", str(cache_dir), "--no-error-summary", *files]
    )
    errors: list[str] = []
    for line in stdout.splitlines():
        match = _MYPY_LINE.match(line)
        if match is None:
            errors.append(line)
            continue
        placed = where.get(Path(match["file"]).name)
        if placed is None:
            errors.append(line)
            continue
        snippet, preamble_offset, body_offset = placed
        number = int(match["line"])
        if number > body_offset:
            doc_line = snippet.line + number - body_offset - 1
        elif number > preamble_offset:
            doc_line = snippet.preamble_line + number - preamble_offset - 1
        else:
            doc_line = snippet.line
        errors.append(f"{snippet.source}:{doc_line}: {match['kind']}: {match['message']}")
    if status != 0 and not any(": error: " in error for error in errors):
        errors.append(f"mypy exited with {status}: {stderr.strip() or stdout.strip()}")
    return errors


def doc_files() -> list[Path]:
    """README.md, every page under docs/ and every provider's README (the provider pages include them)."""
    pages = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_ext" not in p.parts)
    return [ROOT / "README.md", *pages, *sorted((ROOT / "providers").glob("*/README.md"))]


def test_the_docs_code_passes_mypy_strict(tmp_path: Path) -> None:
    snippets = [
        snippet
        for path in doc_files()
        for snippet in extract_snippets(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    checked = [snippet for snippet in snippets if not snippet.skip]
    assert {snippet.source for snippet in checked} >= {"README.md", "docs/guide.md", "docs/index.md"}
    errors = typecheck(snippets, tmp_path)
    assert not errors, "code in the docs does not pass mypy --strict:\n" + "\n".join(errors)


# -- the extractor itself ------------------------------------------------------------------

PAGE = """\
# A page

```python
total: int = 1
```

<!-- typecheck: skip -->
```python
this is not python
```

```sh
echo not python either
```

<!-- typecheck
extra: int
-->

```python
total_2: int = extra + 1
```

<!-- typecheck: async -->
```python
value: int = await compute()
return value
```
"""


def test_blocks_and_their_markers_are_read() -> None:
    first, skipped, preambled, wrapped = extract_snippets(PAGE, "page.md")
    assert (first.line, first.code, first.skip) == (4, "total: int = 1\n", False)
    assert skipped.skip and skipped.line == 9
    assert (preambled.preamble, preambled.preamble_line, preambled.line) == ("extra: int", 17, 21)
    assert wrapped.wrap_async and not wrapped.preamble


def test_a_type_error_in_a_block_fails_at_its_markdown_line(tmp_path: Path) -> None:
    page = "# Bad\n\nSome text.\n\n```python\nfrom decimal import Decimal\n\ncount: int = Decimal(3)\n```\n"
    errors = typecheck(extract_snippets(page, "bad.md"), tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith("bad.md:8: error: Incompatible types in assignment")


def test_errors_in_hidden_lines_and_async_blocks_point_at_the_markdown(tmp_path: Path) -> None:
    page = (
        "<!-- typecheck: async\n"
        "async def compute() -> str:\n"
        "    return 'x'\n"
        "broken: int = 'x'\n"
        "-->\n"
        "```python\n"
        "value: int = await compute()\n"
        "```\n"
    )
    errors = typecheck(extract_snippets(page, "p.md"), tmp_path)
    assert [error.split(": error:")[0] for error in errors] == ["p.md:4", "p.md:7"]


def test_untyped_functions_in_a_block_fail_as_in_the_package(tmp_path: Path) -> None:
    page = "```python\ndef on_event(event):\n    print(event)\n```\n"
    errors = typecheck(extract_snippets(page, "p.md"), tmp_path)
    assert errors and errors[0].startswith("p.md:2: error: Function is missing a type annotation")


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        ("```python\nx = 1\n", "p.md:1: code block never closed"),
        ("<!-- typecheck: skp -->\n```python\nx = 1\n```\n", "unknown typecheck flag(s) ['skp']"),
        ("<!-- typecheck skip -->\n```python\nx = 1\n```\n", "write 'typecheck: FLAGS'"),
    ],
)
def test_unreadable_pages_are_errors(page: str, problem: str) -> None:
    with pytest.raises(DocsCodeError, match=re.escape(problem)):
        extract_snippets(page, "p.md")
