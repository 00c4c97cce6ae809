"""The documentation: every relative link reaches a file (and heading), and every `python -m inception_jax.…`
command in a fenced code block parses with its tool's real flags.

Links are checked in README.md, docs/*.md and experiments/*/README.md, and so are commands. Each tool's commands
are parsed in one subprocess that runs the tool's module as `__main__`, as `python -m` does, so that it defines
its flags, with `cli.run` replaced so that nothing runs; then `cli.parse` takes each command line in turn. One
process per tool, because absl has one flag registry per process and tools define flags of the same names.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "experiments").glob("*/README.md")])
README_MAX_LINES = 250
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"`[^`]*`")
SHELL_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
FOR_LOOP = re.compile(r"\bfor\s+(\w+)\s+in\s+([^;\n]+);")
# A documented command's shell variables, where no `for` loop gives them a value: a value every flag type takes.
VARIABLE_VALUE = "1"


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _prose_lines(text: str):
    """(line number, line) of the text outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def _fenced_blocks(text: str):
    """(first line number, the block's lines) of each fenced code block."""
    block, start = None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            if block is None:
                block, start = [], number + 1
            else:
                yield start, block
                block = None
        elif block is not None:
            block.append(line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text of its Markdown, lowercased, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, numbered as GitHub numbers repeated ones (`x`, `x-1`, ...)."""
    found, counts = set(), {}
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = counts.get(base, 0)
            counts[base] = count + 1
            found.add(f"{base}-{count}" if count else base)
    return found


def broken_links(path: Path) -> list[str]:
    """Each relative link of `path` whose file or heading does not exist, as `FILE:LINE: [target] why`."""
    problems = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:, ...
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{_relative(path)}:{number}: ({target})"
            if not linked.exists():
                problems.append(f"{where} {file_part} does not exist")
            elif anchor and linked.suffix != ".md":
                problems.append(f"{where} an anchor into a file that is not Markdown")
            elif anchor and anchor not in anchors(linked):
                problems.append(f"{where} {_relative(linked)} has no heading with the anchor #{anchor}")
    return problems


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str
    module: str
    argv: tuple[str, ...]


def _logical_lines(lines: list[str], start: int):
    """(line number, line) with backslash-continued lines joined."""
    joined, first = "", None
    for number, line in enumerate(lines, start):
        first = number if first is None else first
        if line.rstrip().endswith("\\"):
            joined += line.rstrip()[:-1] + " "
            continue
        yield first, joined + line
        joined, first = "", None
    if first is not None:
        yield first, joined


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _is_operator(token: str) -> bool:
    return bool(token) and all(character in "();<>|&" for character in token)


def commands_in(text: str) -> list[tuple[str, list[str]]]:
    """The `python -m inception_jax.…` commands of one shell line: (module, argv with the module as argv[0]).

    Shell operators end a command, and a command inside a quoted argument (`ssh ... --command="..."`) counts.
    """
    found = []
    tokens = _tokens(text)
    for index, token in enumerate(tokens):
        if (
            os.path.basename(token) in ("python", "python3")
            and tokens[index + 1 : index + 2] == ["-m"]
            and tokens[index + 2 : index + 3]
            and tokens[index + 2].startswith("inception_jax")
        ):
            module, argv = tokens[index + 2], [tokens[index + 2]]
            for argument in tokens[index + 3 :]:
                if _is_operator(argument):
                    break
                argv.append(argument)
            found.append((module, argv))
        elif "python" in token and " -m inception_jax" in token:
            found.extend(commands_in(token))
    return found


def documented_commands(path: Path) -> list[Command]:
    """Every `python -m inception_jax.…` command in the fenced code blocks of `path`, its shell variables given
    their `for` loop's first value, or `VARIABLE_VALUE`."""
    found = []
    for start, block in _fenced_blocks(path.read_text(encoding="utf-8")):
        loops = {name: words.split()[0] for name, words in FOR_LOOP.findall("\n".join(block)) if words.split()}
        for number, line in _logical_lines(block, start):
            if "-m inception_jax" not in line:
                continue
            expanded = SHELL_VARIABLE.sub(lambda m: loops.get(m.group(1) or m.group(2), VARIABLE_VALUE), line)
            for module, argv in commands_in(expanded):
                found.append(Command(_relative(path), number, " ".join(line.split()), module, tuple(argv)))
    return found


# Runs in a fresh interpreter per tool: argv[1] is the tool's module, argv[2] a JSON file of command lines, and
# the same file receives one error message (or null) per command line.
_PARSER = """
import json, runpy, sys

import inception_jax
from absl import flags
from inception_jax import cli

module, path = sys.argv[1], sys.argv[2]
with open(path) as file:
    commands = json.load(file)
sys.argv = [module]  # imported as `python -m` would be, before any command line is known
cli.run = lambda main, argv=None: None  # the tool defines its flags; nothing runs
runpy.run_module(module, run_name="__main__", alter_sys=False)
errors = []
for argv in commands:
    try:
        cli.parse(argv)
        options = cli.model_options()
        if options and "model" in flags.FLAGS and flags.FLAGS.model in inception_jax.list_models():
            inception_jax.create_model(flags.FLAGS.model, **options)  # a misspelt --model.OPTION
        errors.append(None)
    except BaseException as error:  # absl's errors, UsageError, a config file's own, SystemExit
        errors.append(f"{type(error).__name__}: {error}".strip())
with open(path, "w") as file:
    json.dump(errors, file)
"""


def parse_errors(commands_by_module: dict[str, list[list[str]]]) -> dict[str, list[str | None]]:
    """Per module, the error of each of its command lines (None where it parses), one subprocess per module."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.setdefault("JAX_PLATFORMS", "cpu")
    with tempfile.TemporaryDirectory() as folder:
        running = {}
        for index, (module, commands) in enumerate(sorted(commands_by_module.items())):
            path = os.path.join(folder, f"{index}.json")
            with open(path, "w") as file:
                json.dump(commands, file)
            process = subprocess.Popen(
                [sys.executable, "-c", _PARSER, module, path],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            running[module] = (process, path)
        results = {}
        for module, (process, path) in running.items():
            output, _ = process.communicate(timeout=300)
            assert process.returncode == 0, f"parsing {module}'s commands failed:\n{output[-3000:]}"
            with open(path) as file:
                results[module] = json.load(file)
    return results


# Command lines that must fail, parsed beside the documented ones: the check itself is checked.
WRONG = {
    "inception_jax.main": [
        ["inception_jax.main", "--config=inception_jax:inception_v4", "--config.optimzer.name=sgd"],
        ["inception_jax.main", "--workdir=runs/x", "--no_such_flag=1"],
    ],
    "inception_jax.summary": [["inception_jax.summary", "--model=inception_v4", "--model.bn_use_scal=true"]],
}


def test_readme_stays_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to a page of docs/"


def test_every_relative_link_reaches_a_file_and_heading():
    problems = [problem for page in PAGES for problem in broken_links(page)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_commands_are_found_through_continuations_quotes_loops_and_comments(tmp_path):
    text = (
        "```bash\n"
        'ssh host --command="cd x && \\\n'
        '  .venv/bin/python -m inception_jax.main --workdir=gs://$BUCKET/runs"\n'
        "for i in 0 1; do X=4 python -m inception_jax.main --process_id=$i & done\n"
        "python -m inception_jax.fid --kid a b   # FID: 1.0\n"
        "```\n"
        "python -m inception_jax.plot outside a fence\n"
    )
    page = tmp_path / "page.md"
    page.write_text(text)
    found = [(command.line, command.argv) for command in documented_commands(page)]
    assert found == [
        (2, ("inception_jax.main", "--workdir=gs://1/runs")),
        (4, ("inception_jax.main", "--process_id=0")),
        (5, ("inception_jax.fid", "--kid", "a", "b")),
    ]


def test_slugs_follow_github():
    assert slug("Evaluation: 1, 12 and 144 crops, and ensembles") == "evaluation-1-12-and-144-crops-and-ensembles"
    assert slug("`make run` with and without the tuned XLA:CPU flags") == (
        "make-run-with-and-without-the-tuned-xlacpu-flags"
    )
    assert slug("Multi-host: TPU pods and GPU clusters") == "multi-host-tpu-pods-and-gpu-clusters"


def test_every_documented_command_parses_with_its_tools_flags():
    commands = [command for page in PAGES for command in documented_commands(page)]
    documented_tools = {command.module for command in commands}
    assert {"inception_jax.main", "inception_jax.evaluate", "inception_jax.convert", "inception_jax.fid"} <= (
        documented_tools
    ), documented_tools
    by_module: dict[str, list[list[str]]] = {}
    for command in commands:
        by_module.setdefault(command.module, []).append(list(command.argv))
    for module, wrong in WRONG.items():
        by_module.setdefault(module, []).extend(wrong)

    errors = parse_errors(by_module)

    for module, wrong in WRONG.items():
        assert all(errors[module][-len(wrong) :]), f"{module} accepted a wrong command line: {errors[module]}"
        errors[module] = errors[module][: -len(wrong)]
    failures = []
    for command in commands:
        error = errors[command.module].pop(0)
        if error:
            failures.append(f"{command.page}:{command.line}: {command.text}\n    {error}")
    assert not failures, "documented commands that do not parse:\n" + "\n".join(failures)
