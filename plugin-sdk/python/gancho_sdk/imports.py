"""What a plugin's code imports, read from its source at build time: every ``import`` in ``plugin.py`` and in
the plugin's own modules it reaches, at any depth (inside functions too). A component built by
componentize-py can load a module only while it is built (it has no files when it runs), so the build loads
all of these, and refuses one it cannot find before it spends time on the component."""

import ast
import importlib.machinery
import sys
from dataclasses import dataclass
from pathlib import Path

# Modules that exist only inside the component (generated or bundled by componentize-py).
GUEST_ONLY = {"wit_world", "componentize_py_types", "componentize_py_runtime", "componentize_py_async_support", "poll_loop"}

# Standard modules the standard library itself imports only when a function is called: loaded too, when the
# component has them, so that `datetime.strptime`, `str.encode("latin-1")` or IDNA host names work.
LAZY_STDLIB = [
    "_strptime",
    "encodings.ascii",
    "encodings.latin_1",
    "encodings.cp1252",
    "encodings.utf_16",
    "encodings.utf_32",
    "encodings.idna",
    "encodings.punycode",
]

# Errors an import guarded by ``try`` may be waiting for: such an import is optional.
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class Import:
    """One module the plugin's code imports."""

    module: str  # as imported: `decimal`, `email.utils`
    where: str  # the first place it is imported: `plugin.py:12`
    optional: bool  # guarded by `try: … except ImportError`, under `if TYPE_CHECKING`, or a maybe-submodule


def plugin_imports(directory: Path) -> list[Import]:
    """The modules ``plugin.py`` in ``directory`` and the local modules it imports import, first place first."""
    found: dict[str, Import] = {}
    queue = [directory / "plugin.py"]
    scanned: set[Path] = set()
    while queue:
        path = queue.pop(0)
        if path in scanned:
            continue
        scanned.add(path)
        package = _package_of(directory, path)
        for module, line, optional in _imports_in(path, package):
            where = f"{path.relative_to(directory)}:{line}"
            known = found.get(module)
            if known is None or (known.optional and not optional):
                found[module] = Import(module, known.where if known else where, optional)
            local = _local_file(directory, module)
            if local is not None:
                queue.append(local)
    return list(found.values())


def missing_before_build(imports: list[Import], search_path: list[Path]) -> list[Import]:
    """The required imports that are neither standard modules nor found on ``search_path`` (the plugin's
    directory, the SDK, the venv's packages): refused before componentize-py runs. Standard modules are
    checked inside the component, whose standard library is its own."""
    paths = [str(p) for p in search_path]
    missing = []
    for imported in imports:
        top = imported.module.split(".")[0]
        if imported.optional or top in sys.stdlib_module_names or top in GUEST_ONLY:
            continue
        if importlib.machinery.PathFinder.find_spec(top, paths) is None:
            missing.append(imported)
    return missing


def _imports_in(path: Path, package: list[str]) -> list[tuple[str, int, bool]]:
    """(module, line, optional) for every import in one file, relative ones made absolute."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, optional: bool) -> None:
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno, optional) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base:
                out.append((base, node.lineno, optional))
            # `from x import y` may name a submodule: loaded when there is one.
            out.extend((f"{base}.{a.name}" if base else a.name, node.lineno, True) for a in node.names if a.name != "*")
        elif isinstance(node, ast.Call) and _names_import_call(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.append((first.value, node.lineno, optional))
        if isinstance(node, ast.Try):
            guarded = optional or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                visit(child, guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, optional)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, optional)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(tree, False)
    return out


def _absolute(module: str | None, level: int, package: list[str]) -> str:
    if level == 0:
        return module or ""
    base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
    return ".".join([*base, *([module] if module else [])])


def _package_of(directory: Path, path: Path) -> list[str]:
    """The package a local file belongs to, as name parts (`[]` for plugin.py and top-level modules)."""
    return list(path.relative_to(directory).parts[:-1])


def _local_file(directory: Path, module: str) -> Path | None:
    """The plugin's own file for ``module`` (`helpers` → helpers.py, `crm.fields` → crm/fields.py), if any."""
    base = directory.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _names_import_call(func: ast.expr) -> bool:
    """`importlib.import_module(…)`, `import_module(…)` or `__import__(…)`."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in _IMPORT_ERRORS for t in types)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
