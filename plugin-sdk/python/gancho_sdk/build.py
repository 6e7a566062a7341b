"""``python -m gancho_sdk.build [DIR] [--out FILE] [--wit PATH]``: turns a Python plugin directory (a
``plugin.py`` with ``transform``) into a Gancho component with componentize-py. ``gancho plugin build`` runs
this with the plugin's venv (``.venv``) for a directory with a ``plugin.py``.

What the component can import is fixed when it is built (it has no files when it runs): the build loads every
module the plugin's code imports (:mod:`gancho_sdk.imports`), from the standard library, the plugin's
directory and the venv's packages, and refuses, naming the module, one it cannot load. The component is
keyed by a digest of everything it is built from: building unchanged sources again returns the same file
(componentize-py's snapshot itself differs from run to run: CPython seeds its string hashes from the build
machine's entropy), so an upload of it reuses the service's compiled copy."""

import argparse
import ast
import hashlib
import importlib.metadata
import re
import site
import sys
import time
import tomllib
from pathlib import Path

SDK_ROOT = Path(__file__).resolve().parent.parent  # plugin-sdk/python: the directory holding gancho_sdk
if not __package__:  # run as a script (`python path/to/gancho_sdk/build.py`): the SDK is beside it
    sys.path.insert(0, str(SDK_ROOT))

from gancho_sdk.imports import LAZY_STDLIB, Import, missing_before_build, plugin_imports

# Bumped when the build makes a different component from the same inputs.
BUILD_FORMAT = "gancho-build-python 2"
# What the component entry prints when a module cannot be loaded; read back from componentize-py's error.
CANNOT_IMPORT = "gancho-build: cannot import"
# Not part of a plugin's inputs.
SKIPPED_DIRS = {"build", ".venv", "venv", "__pycache__", ".pytest_cache", ".git", "node_modules", "tests"}


def fail(message: str, code: int = 2) -> None:
    print(f"gancho-build-python: {message}", file=sys.stderr)
    sys.exit(code)


def entry_source(imports: list[Import]) -> str:
    """The component's entry module: the plugin, then every module its code imports, then its WitWorld."""
    required = [(i.module, i.where) for i in imports if not i.optional]
    optional = [i.module for i in imports if i.optional] + LAZY_STDLIB
    return f"""\
# Written by gancho_sdk.build: loads the plugin and every module its code imports (the component cannot
# load one when it runs), then makes the component's WitWorld, calling the plugin's functions.
import importlib
import sys

import plugin
from gancho_sdk._component import world_for

for _name, _where in {required!r}:
    try:
        importlib.import_module(_name)
    except BaseException as _error:
        print(f"{CANNOT_IMPORT} {{_name}} ({{_where}}): {{type(_error).__name__}}: {{_error}}", file=sys.stderr)
        raise
for _name in {optional!r}:
    try:
        importlib.import_module(_name)
    except Exception:
        pass

WitWorld = world_for(plugin)
"""


def venv_packages() -> list[Path]:
    """The site-packages of the venv this build runs in (none outside a venv: a system's packages are not the
    plugin's)."""
    if sys.prefix == sys.base_prefix:
        return []
    return [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]


def inputs_digest(directory: Path, wit: Path, world: str, python_path: list[Path]) -> str:
    """A digest of everything the component is built from: the plugin's files, the SDK, the WIT, the world,
    componentize-py's version and the venv's installed files (their RECORDs, which hold each file's hash)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", BUILD_FORMAT.encode())
    add("componentize-py", importlib.metadata.version("componentize-py").encode())
    add("world", world.encode())
    for file in sorted(wit.rglob("*.wit") if wit.is_dir() else [wit]):
        add("wit", file.read_bytes())
    for root in python_path:
        if root.name == "site-packages":
            for record in sorted(root.glob("*.dist-info/RECORD")):
                add(f"record {record.parent.name}", record.read_bytes())
            continue
        for file in sorted(_files(root)):
            add(f"file {file.relative_to(root)}", file.read_bytes())
    return digest.hexdigest()


def _files(root: Path):
    for path in root.iterdir():
        if path.is_dir():
            if path.name not in SKIPPED_DIRS and not path.name.endswith(".egg-info"):
                yield from _files(path)
        elif path.suffix not in (".pyc", ".wasm"):
            yield path


def componentize(wit: Path, world: str, python_path: list[Path], out: Path) -> None:
    """Runs componentize-py on the entry module; a failure is said in a few lines, never a Rust backtrace."""
    try:
        import componentize_py
    except ImportError:
        fail(
            f"componentize-py is not installed in {sys.prefix}; run `{sys.executable} -m pip install "
            "--require-hashes -r requirements.txt` in the plugin's directory (the plugin's README) and build again"
        )
    try:
        componentize_py.componentize(
            [wit], [world], [], False, None, [str(p) for p in python_path], [], "gancho_component",
            out, False, [], [], False, None,
        )
    except AssertionError as error:
        fail(explain(str(error)), 1)


# Said when the component cannot load a module.
NOT_IN_WEBASSEMBLY = (
    "The component runs CPython in WebAssembly: modules that need the operating system (ctypes, sockets, "
    "processes, …) and packages with native code are not there. Use a pure-Python module instead, or import it "
    "inside `try: … except ImportError:` if the plugin can do without it."
)


def explain(text: str) -> str:
    """componentize-py's error (the pre-initialisation's output, then Rust's chain of causes) as a message."""
    output = text.split("\n\nCaused by:")[0]
    cannot = re.search(rf"{CANNOT_IMPORT} (\S+) \(([^)]*)\): (.*)", output)
    if cannot:
        module, where, error = cannot.groups()
        return f"{where} imports `{module}`, which cannot be loaded in the component ({error}).\n{NOT_IN_WEBASSEMBLY}"
    start = output.find("Traceback (most recent call last):")
    if start >= 0:
        traceback = output[start:].strip()
        last = traceback.splitlines()[-1]
        hint = f"\n{NOT_IN_WEBASSEMBLY}" if last.startswith(("ModuleNotFoundError", "ImportError")) else ""
        return f"the plugin failed while the build loaded it:\n{traceback}{hint}"
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return "componentize-py failed: " + "\n".join(lines[:12])


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

    imports = plugin_imports(directory)
    # The entry module lives in a directory of its own, so that only .py sources are on the path.
    entry_dir = directory / "build" / "component-entry"
    python_path = [entry_dir, directory, SDK_ROOT, *venv_packages()]
    python_path = list(dict.fromkeys(p.resolve() for p in python_path))
    missing = missing_before_build(imports, python_path[1:])
    if missing:
        fail(
            "\n".join(
                f"{m.where} imports `{m.module}`, which is not a standard module, nor in {directory}, nor installed "
                f"in the venv ({sys.prefix})"
                for m in missing
            )
            + f"\ninstall it there (`{sys.executable} -m pip install {missing[0].module.split('.')[0]}`; pure-Python "
            "packages only) and build again"
        )

    # A component exports every function of its world: a plugin that merges is built against
    # `merging-plugin`, any other against `plugin` (and is delivered one request at a time).
    world = "merging-plugin" if defines_merge(directory / "plugin.py") else "plugin"
    entry_dir.mkdir(parents=True, exist_ok=True)
    (entry_dir / "gancho_component.py").write_text(entry_source(imports))
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = out.with_name(out.name + ".inputs")
    digest = inputs_digest(directory, wit, world, [entry_dir, *python_path[1:]])
    if out.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        print(f"gancho-build-python: {out} ({out.stat().st_size} bytes, unchanged inputs: built before)", file=sys.stderr)
        print(out)
        return

    started = time.monotonic()
    stamp.unlink(missing_ok=True)
    componentize(wit, world, python_path, out)
    stamp.write_text(digest + "\n")
    took = int((time.monotonic() - started) * 1000)
    print(f"gancho-build-python: {out} ({out.stat().st_size} bytes, {took} ms)", file=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
