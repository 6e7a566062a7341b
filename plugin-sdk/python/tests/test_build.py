"""The build's reading of a plugin: the modules its code imports (inside functions, in its own modules,
optional ones), the refusal of a package that is not installed, and componentize-py's errors as messages."""

import textwrap
from pathlib import Path

from gancho_sdk.build import entry_source, explain
from gancho_sdk.imports import missing_before_build, plugin_imports


def write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(text))


def test_imports_inside_functions_and_in_local_modules_are_found(tmp_path):
    write(tmp_path, {
        "plugin.py": """\
            import json
            from crm import fields

            def transform(event, subscription):
                import decimal
                from email.utils import parseaddr
                return []
            """,
        "crm/__init__.py": "",
        "crm/fields.py": """\
            from . import names

            def f():
                import csv
            """,
        "crm/names.py": "import uuid\n",
        "tests/test_plugin.py": "import pytest\n",
    })
    found = {i.module: i for i in plugin_imports(tmp_path)}
    for module in ["json", "crm", "decimal", "email.utils", "csv", "uuid", "crm.names"]:
        assert module in found, module
    assert not found["decimal"].optional and found["decimal"].where == "plugin.py:5"
    assert found["csv"].where == "crm/fields.py:4"
    assert found["crm.fields"].optional  # `from crm import fields`: a submodule if there is one
    assert "pytest" not in found  # tests are not part of the component


def test_guarded_imports_are_optional_and_missing_packages_are_named(tmp_path):
    write(tmp_path, {
        "plugin.py": """\
            from typing import TYPE_CHECKING
            try:
                import ujson
            except ImportError:
                ujson = None
            if TYPE_CHECKING:
                import mypy_extensions

            def transform(event, subscription):
                import iso8601
                import decimal
                import wit_world
                return []
            """,
    })
    imports = plugin_imports(tmp_path)
    optional = {i.module for i in imports if i.optional}
    assert {"ujson", "mypy_extensions"} <= optional
    missing = missing_before_build(imports, [tmp_path])
    assert [(m.module, m.where) for m in missing] == [("iso8601", "plugin.py:10")]
    (tmp_path / "iso8601.py").write_text("")
    assert missing_before_build(imports, [tmp_path]) == []


def test_the_entry_loads_every_required_import_and_names_what_fails():
    imports = plugin_imports(Path(__file__).parent.parent.parent.parent / "plugins" / "slack-python")
    source = entry_source(imports)
    compile(source, "gancho_component.py", "exec")
    assert "('json', 'plugin.py:" in source and "'_strptime'" in source


def test_componentize_py_errors_become_a_few_lines():
    cannot = (
        "gancho-build: cannot import ctypes (plugin.py:16): ModuleNotFoundError: No module named '_ctypes'\n"
        "Traceback (most recent call last):\n  File \"/0/gancho_component.py\"\n"
        "ModuleNotFoundError: No module named '_ctypes'\n\nCaused by:\n    0: wasm trap\n    1: backtrace"
    )
    message = explain(cannot)
    assert message.startswith("plugin.py:16 imports `ctypes`, which cannot be loaded in the component")
    assert "Caused by" not in message and "backtrace" not in message
    traceback = "Traceback (most recent call last):\n  File \"/1/plugin.py\", line 3\nValueError: boom\n\nCaused by:\n 0: x"
    assert explain(traceback) == (
        "the plugin failed while the build loaded it:\nTraceback (most recent call last):\n"
        "  File \"/1/plugin.py\", line 3\nValueError: boom"
    )
