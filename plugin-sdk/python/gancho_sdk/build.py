"""``python -m gancho_sdk.build [DIR] [--out FILE] [--wit PATH]``: turns a Python plugin directory (a
``plugin.py`` with ``transform``) into a Gancho component with componentize-py. ``gancho plugin build`` runs
this for a directory with a ``plugin.py``."""

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

SDK_ROOT = Path(__file__).resolve().parent.parent  # plugin-sdk/python: the directory holding gancho_sdk

ENTRY = """\
# Written by gancho_sdk.build: the component's WitWorld, calling the plugin's functions.
import plugin
from gancho_sdk._component import world_for

WitWorld = world_for(plugin)
"""


def fail(message: str, code: int = 2) -> None:
    print(f"gancho-build-python: {message}", file=sys.stderr)
    sys.exit(code)


def componentize_py() -> str:
    """componentize-py next to this Python (the SDK's venv), else on PATH."""
    beside = Path(sys.executable).parent / "componentize-py"
    found = str(beside) if beside.exists() else shutil.which("componentize-py")
    if not found:
        fail("componentize-py is not installed; pip install --require-hashes -r plugin-sdk/python/requirements.txt")
    return found


def project_name(directory: Path) -> str:
    """``[project] name`` of the plugin's pyproject.toml, else the directory's name."""
    manifest = directory / "pyproject.toml"
    if manifest.exists():
        with manifest.open("rb") as file:
            name = tomllib.load(file).get("project", {}).get("name")
        if isinstance(name, str) and name:
            return name
    return directory.name


def defines_merge(plugin_py: Path) -> bool:
    """Whether ``plugin.py`` defines (or imports) ``merge`` at its top level, read without running it."""
    tree = ast.parse(plugin_py.read_text("utf-8"), str(plugin_py))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "merge":
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == "merge" for a in node.names):
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "merge" for t in node.targets):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(prog="gancho-build-python", description=__doc__)
    parser.add_argument("dir", nargs="?", default=".")
    parser.add_argument("--out", "-o")
    parser.add_argument("--wit")
    args = parser.parse_args()

    directory = Path(args.dir).resolve()
    if not (directory / "plugin.py").exists():
        fail(f"{directory / 'plugin.py'}: not found; a Python plugin is a directory with plugin.py defining transform")
    wit = Path(args.wit).resolve() if args.wit else SDK_ROOT.parent.parent / "wit"
    if not wit.exists():
        fail(f"{wit}: no WIT here; pass --wit with the path of Gancho's wit/plugin.wit")
    name = re.sub(r"[^a-z0-9_-]", "_", project_name(directory).lower())
    out = Path(args.out).resolve() if args.out else directory / "build" / f"{name}.wasm"

    # The entry module lives in a directory of its own, so that only .py sources are on the path.
    entry_dir = directory / "build" / "component-entry"
    entry_dir.mkdir(parents=True, exist_ok=True)
    (entry_dir / "gancho_component.py").write_text(ENTRY)
    out.parent.mkdir(parents=True, exist_ok=True)

    # A component exports every function of its world: a plugin that merges is built against
    # `merging-plugin`, any other against `plugin` (and is delivered one request at a time).
    world = "merging-plugin" if defines_merge(directory / "plugin.py") else "plugin"
    command = [
        componentize_py(), "-q", "-d", str(wit), "-w", world, "componentize",
        "-p", str(entry_dir), "-p", str(directory), "-p", str(SDK_ROOT),
        "-o", str(out), "gancho_component",
    ]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # no site-packages in the component
    started = time.monotonic()
    result = subprocess.run(command, env=env)
    if result.returncode != 0:
        fail(f"componentize-py failed (exit {result.returncode}); see its output above", 1)
    took = int((time.monotonic() - started) * 1000)
    print(f"gancho-build-python: {out} ({out.stat().st_size} bytes, {took} ms)", file=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
