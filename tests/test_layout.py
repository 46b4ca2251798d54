"""The package's layout holds: imports only run down the layers, every subcommand has its module,
and the README's maps (subcommand -> module, results/ file -> module) match the code.

The layers, top to bottom (docs/development.md, "Where a change goes"): an import may only go to
a lower layer; two packages of one layer never import each other, so the step libraries stay
independent and no package cycle can form.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from zstvg.cli import COMMANDS, command_module

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "zstvg"

LAYERS: list[set[str]] = [
    {"cli"},
    {"commands"},
    {"grounding"},
    {"evaluation"},
    {"mllm", "proposals", "decompose", "data", "tiny"},
    {"video"},
    {"config", "jobs"},
    {"files"},
]
LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _unit(path: Path) -> str:
    """The layer unit of a source file: its top folder under zstvg/, or its module name."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_units(path: Path) -> list[tuple[int, str]]:
    """(line, unit) of every zstvg import in the file, module level or inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "zstvg":
                continue
            if len(parts) > 1:
                out.append((node.lineno, parts[1]))
            else:  # from zstvg import X: a package, a module or the version
                out += [(node.lineno, a.name) for a in node.names if a.name != "__version__"]
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, a.name.split(".")[1])
                for a in node.names
                if a.name.startswith("zstvg.")
            ]
    return out


def _sources() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


def test_every_package_and_module_has_a_layer() -> None:
    units = {_unit(p) for p in _sources()}
    assert units - set(LAYER_OF) == set(), "add the new package to LAYERS (and the docs)"


def test_imports_only_run_down_the_layers() -> None:
    wrong = []
    for path in _sources():
        unit = _unit(path)
        for line, target in _imported_units(path):
            if target == unit:
                continue
            if LAYER_OF.get(target, -1) <= LAYER_OF[unit]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {unit} -> {target}")
    assert wrong == []


def test_commands_import_no_other_command() -> None:
    wrong = []
    for path in sorted((PACKAGE / "commands").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "zstvg.commands"
            ):
                wrong.append(f"{path.name}:{node.lineno}: {node.module}")
    assert wrong == []


def test_each_subcommand_is_one_module_named_as_the_command() -> None:
    modules = {p.stem for p in (PACKAGE / "commands").glob("*.py") if p.stem != "__init__"}
    assert modules == {name.replace("-", "_") for name in COMMANDS}
    for name in COMMANDS:
        source = (PACKAGE / "commands" / f"{name.replace('-', '_')}.py").read_text()
        tree = ast.parse(source)
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert {"add_arguments", "run"} <= defined, name
        assert command_module(name) == f"zstvg.commands.{name.replace('-', '_')}"


def _readme_table(heading: str) -> list[tuple[str, str]]:
    """The (first, second) backticked cells of the Markdown table under ``heading``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)
    assert len(section) == 2, f"README.md has no {heading!r} section"
    rows = []
    for line in section[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`") and cells[1].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1].strip("`")))
    assert rows, f"no table rows under {heading!r}"
    return rows


def test_readme_command_table_matches_zstvg_help() -> None:
    rows = _readme_table("## Commands")
    help_text = subprocess.run(
        [sys.executable, "-m", "zstvg.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    # `zstvg --help` lists each subcommand at the start of a line, with its help
    in_help = [n for n in COMMANDS if re.search(rf"^\s+{re.escape(n)}\b", help_text, re.M)]
    assert [name.removeprefix("zstvg ") for name, _ in rows] == in_help
    for name, module in rows:
        command = name.removeprefix("zstvg ")
        assert module == f"src/zstvg/commands/{command.replace('-', '_')}.py", name
        assert (ROOT / module).is_file(), module


def test_readme_files_table_names_the_module_that_reads_and_writes_each_file() -> None:
    wrong = []
    for kind, module in _readme_table("## Files in results/"):
        path = ROOT / module
        # The module's docstring names the file it owns (its name, without folders or patterns).
        name = re.sub(r"[<{].*?[>}]", "", kind.split("/")[-1]).strip("*.")
        if not path.is_file():
            wrong.append(f"{kind}: {module} does not exist")
        elif not name or name not in path.read_text(encoding="utf-8"):
            wrong.append(f"{kind}: {module} never names {name!r}")
    assert wrong == []


def _slug(heading: str) -> str:
    """A Markdown heading's anchor as GitHub renders it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_code_cites_only_docs_of_the_repository_and_their_sections_exist() -> None:
    cited = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
    wrong = []
    for folder in ("src", "workflow", "benchmarks", "tests"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".smk", ".yaml"} or path.name == "test_layout.py":
                continue
            text = path.read_text(encoding="utf-8")
            if "DESIGN §" in text:
                wrong.append(f"{path.relative_to(ROOT)} cites DESIGN, a file outside the repo")
            for page, anchor in cited.findall(text):
                doc = ROOT / "docs" / page
                if not doc.is_file():
                    wrong.append(f"{path.relative_to(ROOT)}: docs/{page} does not exist")
                    continue
                headings = {
                    _slug(line.lstrip("#"))
                    for line in doc.read_text(encoding="utf-8").splitlines()
                    if line.startswith("#")
                }
                if anchor and anchor not in headings:
                    wrong.append(f"{path.relative_to(ROOT)}: docs/{page} has no section #{anchor}")
    assert wrong == []
