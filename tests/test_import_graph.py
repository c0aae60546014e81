"""scripts/import_graph.py, the measure issue 29 reports, on a package small enough to count
by hand: which imports make cycles, which run only as a script, which go against the layers."""

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "import_graph.py"


def graph():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_cycles_count_runtime_imports_but_not_type_only_or_script_only_ones(tmp_path):
    """a <-> b at import time is a cycle; b -> c lazily and c -> b make one with lazy
    imports counted; d's imports under TYPE_CHECKING and under `__main__` make none."""
    root = write(tmp_path, {
        "debate/__init__.py": "",
        "debate/a.py": "import debate.b\n",
        "debate/b.py": "import debate.a\ndef f():\n    import debate.c\n",
        "debate/c.py": "import debate.b\n",
        "debate/d.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import debate.e\n"
                        "if __name__ == '__main__':\n    import debate.e\n"),
        "debate/e.py": "import debate.d\n",
    })
    report = graph().analyse(root)
    assert report["cycles_top"] == [["debate.a", "debate.b"]]
    assert report["cycles_top_lazy"] == [["debate.a", "debate.b", "debate.c"]]
    assert report["edges"]["type"] == 1 and report["edges"]["main"] == 1


def test_an_import_from_a_lower_layer_into_a_higher_one_goes_against_the_layers(tmp_path):
    """models (layer 1) importing a protocol (layer 5) is against DESIGN.md's direction;
    the protocol importing the model is not."""
    root = write(tmp_path, {
        "debate/__init__.py": "",
        "debate/models/__init__.py": "",
        "debate/models/m.py": "def f():\n    import debate.protocols.p\n",
        "debate/protocols/__init__.py": "",
        "debate/protocols/p.py": "import debate.models.m\n",
    })
    against = graph().analyse(root)["against_layers"]
    assert [(a["source"], a["target"], a["kind"]) for a in against] == [
        ("debate.models.m", "debate.protocols.p", "lazy")]
