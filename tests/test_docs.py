"""Docs that run (issue 14): every code block of README.md and docs/**/*.md is run.

How a block runs is said by an HTML comment on the line just before its opening
fence (invisible on GitHub and in the built site):

* no comment: a ``python`` block is a whole program. It runs verbatim,
  ``python block.py``, in a fresh temporary directory, with stdin closed (so a
  server that calls ``server.run()`` serves stdio until EOF and exits) and a
  timeout; it must exit 0.
* ``<!-- fragment -->`` or ``<!-- fragment: why -->``: a piece of a larger
  program, or one that needs the network, Claude, an npm tool or code of your
  own. Not run. Mark a block a fragment only when it cannot run as it stands.
* ``<!-- file: NAME -->``: the block is NAME, or the next part of it. A page's
  blocks naming the same file are joined in order (so a page that builds one
  file step by step is tested as the reader ends up with it), and every such
  file is written into the page's directory. Then each ``*.py`` runs as a
  script (stdin closed, as above), and each ``test_*.py`` with pytest (with
  ``trio_mode = true`` unless the page writes its own configuration).
* ``<!-- uses: PAGE -->``, anywhere in a page: PAGE's files are written first
  (the testing how-to tests the tutorial's ``weather.py``).

A ``console`` block is a session: each ``$ command`` runs with bash in the
page's directory, and what it prints (stdout and stderr) must be the lines that
follow, up to the next ``$``. Mark it a fragment to skip it.

Every directory holds ``examples/`` and ``.venv/`` (links to the repository's
and to the running environment), and the environment's ``bin`` comes first on
``PATH``: a block sees what a reader sees in a clone after ``make demo`` and
``source .venv/bin/activate``. ``PYTHONPATH`` and ``TRIO_MCP_*`` are removed.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from _support import paths
from _support.mdblocks import Block, blocks, page_markers

from trio_mcp.testing import connect_process

ROOT = paths.ROOT
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PYTHON = ("python", "py")
TIMEOUT = 120  # seconds per run: generous, the machine is shared


def _all_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks(page)]


BLOCKS = _all_blocks()
RUN = [b for b in BLOCKS if b.lang in PYTHON and b.kind == "run"]
CONSOLE = [b for b in BLOCKS if b.lang == "console" and b.kind == "run"]
FILE_PAGES = sorted({b.page for b in BLOCKS if b.kind == "file"})


def _env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TRIO_MCP_")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _workdir(path: Path) -> Path:
    (path / "examples").symlink_to(paths.EXAMPLES, target_is_directory=True)
    (path / ".venv").symlink_to(Path(sys.executable).parent.parent, target_is_directory=True)
    return path


def _run(
    command: list[str], cwd: Path, what: str, *, shell: bool = False
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command[0] if shell else command,
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            shell=shell,
            executable="/bin/bash" if shell else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{what}: still running after {TIMEOUT} s") from exc


def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
    assert done.returncode == 0, (
        f"{what} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )


def page_files(page: Path, upto: int | None = None, *, tests: bool = True) -> dict[str, str]:
    """The files ``page`` writes, by name: first those of the pages it uses (but not
    their tests), then its own blocks (those before line ``upto``, if given)."""
    files: dict[str, str] = {}
    for used in page_markers(page, "uses"):
        other = (page.parent / used).resolve()
        assert other != page, f"{page.name} uses itself"
        files.update(page_files(other, tests=False))
    own: dict[str, str] = {}
    for block in blocks(page):
        if block.kind == "file" and (upto is None or block.line < upto):
            own[block.file] = (
                own[block.file] + "\n\n" + block.text if block.file in own else block.text
            )
    if not tests:
        own = {name: text for name, text in own.items() if not Path(name).name.startswith("test_")}
    return files | own


def write_files(page: Path, where: Path, upto: int | None = None) -> dict[str, str]:
    files = page_files(page, upto)
    for name, text in files.items():
        target = where / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return files


# ------------------------------------------------------------------ the markers


def test_every_marker_is_known() -> None:
    unknown = [f"{b.where}: <!-- {b.marker} -->" for b in BLOCKS if b.kind == "unknown"]
    assert not unknown, "markers must be fragment or file: NAME (see this module's docstring)"


def test_the_pages_have_python_blocks_to_run() -> None:
    # the extraction itself: a parser that found nothing would make every test vacuous
    assert len(RUN) >= 5
    assert {b.page.name for b in BLOCKS if b.kind == "file"} >= {"README.md", "tutorial.md"}


def test_blocks_of_tests_run_under_pytest() -> None:
    # run as a script, a block of test functions would only define them: a test that cannot fail
    def defines_tests(block: Block) -> bool:
        return any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
            for node in ast.parse(block.text).body
        )

    loose = [b.where for b in RUN if defines_tests(b)]
    assert not loose, "mark them <!-- file: test_NAME.py --> so that pytest runs them"


def test_readme_reliability_is_the_reliability_page() -> None:
    """The README's Reliability section is docs/reliability.md, headings one level down."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Reliability\n", 1)[1].split("\n## ", 1)[0]
    page = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split("\n", 1)[1]
    demoted = "\n".join(
        "#" + line if line.startswith("## ") else line for line in page.splitlines()
    )
    assert section.strip() == demoted.strip()


# ------------------------------------------------------------------ blocks that run alone


@pytest.mark.parametrize("block", RUN, ids=[b.where for b in RUN])
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    where = _workdir(tmp_path)
    script = where / "block.py"
    script.write_text(block.text, encoding="utf-8")
    _check(_run([sys.executable, str(script)], where, block.where), block.where)


# ------------------------------------------------------------------ files built by a page


@pytest.mark.parametrize("page", FILE_PAGES, ids=[p.name for p in FILE_PAGES])
def test_page_files_run(page: Path, tmp_path: Path) -> None:
    where = _workdir(tmp_path)
    files = write_files(page, where)
    scripts = [n for n in files if n.endswith(".py") and not Path(n).name.startswith("test_")]
    tests = [n for n in files if n.endswith(".py") and Path(n).name.startswith("test_")]
    for name in scripts:
        _check(_run([sys.executable, name], where, f"{page.name}: {name}"), f"{page.name}: {name}")
    if tests:
        if not {"pyproject.toml", "pytest.ini"} & set(files):
            (where / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
        done = _run(command, where, f"{page.name}: pytest")
        _check(done, f"{page.name}: pytest {' '.join(tests)}")
        assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout


def _decorated(source: str, kinds: tuple[str, ...]) -> set[str]:
    """Names of the functions decorated with ``@server.<kind>`` (bare or called)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr in kinds:
                    names.add(node.name)
    return names


async def test_the_tutorial_is_one_server(tmp_path: Path) -> None:
    """Pasted in order, the tutorial's snippets are one file serving all it defines."""
    where = _workdir(tmp_path)
    source = write_files(ROOT / "docs" / "tutorial.md", where)["weather.py"]
    tools = _decorated(source, ("tool",))
    prompts = _decorated(source, ("prompt",))
    assert {"add", "temperature", "forecast"} <= tools
    env = _env()
    with trio.fail_after(TIMEOUT):
        async with connect_process([sys.executable, str(where / "weather.py")], env=env) as c:
            served = {t["name"] for t in await c.list_tools()}
            served_prompts = {p["name"] for p in await c.list_prompts()}
            resources = {r["uri"] for r in await c.list_resources()}
            templates = await c.request("resources/templates/list")
    assert served == tools
    assert served_prompts == prompts
    assert "weather://cities" in resources
    assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == ["weather://{city}/today"]


def test_readme_hello_world_is_examples_hello() -> None:
    """The README shows examples/hello.py (after its docstring), and the index the same."""
    readme = page_files(ROOT / "README.md")["hello.py"]
    assert paths.HELLO.read_text(encoding="utf-8").endswith(readme)
    index = [b for b in blocks(ROOT / "docs" / "index.md") if b.lang in PYTHON]
    assert index[0].text == readme


# ------------------------------------------------------------------ console sessions


def _session(text: str) -> Iterator[tuple[str, str]]:
    command: str | None = None
    output: list[str] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, "\n".join(output)
            command, output = line[2:], []
        else:
            assert command is not None, f"output before any $ command: {line!r}"
            output.append(line)
    if command is not None:
        yield command, "\n".join(output)


_SEP = "@@ next command @@"


@pytest.mark.parametrize("block", CONSOLE, ids=[b.where for b in CONSOLE])
def test_console_block(block: Block, tmp_path: Path) -> None:
    where = _workdir(tmp_path)
    write_files(block.page, where, upto=block.line)  # what the reader has written so far
    session = list(_session(block.text))
    # one shell for the session, so that `echo $?` reports the command before it
    script = "".join(
        f"{command} 2>&1\n__rc=$?\necho '{_SEP}'\n(exit $__rc)\n" for command, _ in session
    )
    done = _run([script], where, block.where, shell=True)
    printed = done.stdout.split(f"{_SEP}\n")
    for (command, expected), output in zip(session, printed, strict=False):
        assert output.rstrip("\n") == expected.rstrip("\n"), f"{block.where}: $ {command}"
    assert len(printed) == len(session) + 1, done.stdout
