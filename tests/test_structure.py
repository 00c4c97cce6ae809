"""The package's structure: its parts import each other in one direction, the light parts load nothing heavy, and
one module assembles the train step.

A part is a folder of `inception_jax/` (`models/`, `data/`, `train/`, ...) or a module at its top (`spec.py`,
`cli.py`, ...). Imports are read from the source, those inside functions included.
"""

import ast
import pathlib
import re

from process_utils import REPO, python_output_lines

PACKAGE = pathlib.Path(REPO) / "inception_jax"


def _part(module: str) -> str | None:
    """`inception_jax.train.trainer` → "train/", `inception_jax.spec` → "spec.py"; the package itself → None."""
    names = module.split(".")
    if names[0] != "inception_jax" or len(names) == 1:
        return None
    top = names[1]
    return f"{top}/" if (PACKAGE / top).is_dir() else f"{top}.py"


def _imported_modules(path: pathlib.Path) -> set[str]:
    """Every `inception_jax` module `path` imports, at its top or inside functions."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's own package
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)  # `from inception_jax import cli`
    return {module for module in modules if module.startswith("inception_jax")}


def _part_graph() -> dict[str, set[str]]:
    """Each part → the other parts it imports (the package's own `__init__.py` left out: it is its face)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":
            continue
        source = _part(".".join(path.relative_to(REPO).with_suffix("").parts))
        targets = {_part(module) for module in _imported_modules(path)}
        targets = {target for target in targets if target and target != source and _exists(target)}
        graph.setdefault(source, set()).update(targets)
    return graph


def _exists(part: str) -> bool:
    return (PACKAGE / part.rstrip("/")).exists()


def test_the_parts_import_each_other_in_one_direction():
    graph = _part_graph()
    order, placed = [], set()
    while len(placed) < len(graph):
        ready = sorted(part for part in graph if part not in placed and graph[part] <= placed)
        assert ready, f"these parts import each other in a circle: {sorted(set(graph) - placed)}, " + "; ".join(
            f"{part} -> {sorted(graph[part] - placed)}" for part in sorted(set(graph) - placed)
        )
        order += ready
        placed.update(ready)
    # The bottom of the stack imports nothing above it.
    assert graph["models/"] == set()
    assert graph["spec.py"] == {"models/"}
    assert graph["data/"] <= {"spec.py", "models/"}, graph["data/"]


def test_importing_the_spec_or_the_input_pipeline_loads_no_orbax_optax_or_tensorflow_beyond_its_own():
    code = (
        "import sys\n"
        "heavy = lambda: sorted({m.split('.')[0] for m in sys.modules} & {'orbax', 'optax', 'tensorflow', 'clu'})\n"
        "import inception_jax.spec\n"
        "print(heavy())\n"
        "import inception_jax.data.pipeline\n"
        "print(heavy())\n"
    )
    spec_imports, pipeline_imports = python_output_lines(code)[-2:]
    assert spec_imports == "[]"
    assert pipeline_imports == "['tensorflow']"  # the pipeline's own tf.data, and nothing of training


def test_one_module_assembles_the_train_step():
    assemblers = {"make_train_step", "make_eval_step", "make_optimizer", "learning_rate_schedule"}
    callers: dict[str, set[str]] = {}
    for folder in (PACKAGE, pathlib.Path(REPO) / "experiments", pathlib.Path(REPO) / "benchmarks"):
        for path in folder.rglob("*.py"):
            for name in assemblers:
                if re.search(rf"(?<!def ){name}\(", path.read_text()):
                    callers.setdefault(name, set()).add(path.relative_to(REPO).as_posix())
    assert callers == {name: {"inception_jax/train/program.py"} for name in assemblers}


def test_library_modules_define_no_command_line_flags():
    """absl has one flag registry per process: a module that programs and tests import must not define flags, or
    two of them collide (DuplicateFlagError). Flags belong to the tools' entry modules (`__main__.py`, or modules
    run as `python -m` that say `if __name__ == "__main__"`); `cli.py` holds the dialect's own `--stock_xla`."""
    libraries = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py" or '__name__ == "__main__"' in path.read_text():
            continue
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        libraries.append(module.removesuffix(".__init__"))
    code = (
        "import importlib, json\nfrom absl import flags\n"
        f"for module in {libraries!r}: importlib.import_module(module)\n"
        "by_module = flags.FLAGS.flags_by_module_dict()\n"
        "print(json.dumps({m: sorted(f.name for f in fs) for m, fs in by_module.items() if 'inception_jax' in m}))"
    )
    import json  # noqa: PLC0415

    (line,) = python_output_lines(code)[-1:]
    assert len(libraries) > 60 and json.loads(line) == {"inception_jax.cli": ["stock_xla"]}
