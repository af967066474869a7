"""House rules checked on the source, so that a new module cannot quietly break them:

- no module-level mutable state that decides behaviour: state lives on objects a run creates and passes
  (flows/run), so two runs in one process share nothing by accident. Module-level values are constants
  (tuples, frozensets, MappingProxyType); the few exceptions are listed below with their reason;
- every numeric tunable outside flows/config.py says why it is what it is (a comment on its line or just
  above it); the ones a user may change are config keys or Limits in flows/config.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
FLOWS = REPO / "flows"

# Constructors of mutable values (or of state a process shares): bound at module level, they are state.
MUTABLE_CALLS = frozenset(
    {
        "dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "deque", "Counter", "ChainMap",
        "Queue", "SimpleQueue", "Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore",
        "local", "ContextVar", "WeakValueDictionary", "WeakKeyDictionary", "WeakSet",
    }
)  # fmt: skip
CACHES = frozenset({"lru_cache", "cache", "cached_property"})

# (file, name) → why it is not state that decides behaviour.
ALLOWED = {
    ("flows/extract/pool.py", "_main_lock"): "guards sys.modules['__main__'] while a worker process starts: "
    "that module is process-wide by nature",
    (
        "flows/extract/words.py",
        "_local",
    ): "per-thread ICU break iterators: a cache of objects costly to build; results never depend on it",
    (
        "flows/run/progress.py",
        "_WATCHER",
    ): "a context variable: the watcher of the context that begins a run, "
    "which the run then keeps on its own object",
    (
        "flows/run/unit.py",
        "_WARMED",
    ): "a context variable: the extraction pool the CLI started for the run it begins in that context, "
    "which the run then takes onto its own object",
    ("flows/extract/fields.py", "_options"): "trafilatura's options, a pure function of its arguments",
    ("flows/extract/urls.py", "_site_of_host"): "a pure function of the host name",
    ("flows/sources/storage.py", "_filesystem"): "a filesystem client per place and AWS environment, all in "
    "its key",
    ("*", "__all__"): "the module's exports, by convention a list",
}


def module_state(path: str, source: str) -> list[str]:
    """Module-level mutable state in one module's source: `global` statements, names bound to mutable
    values, functions with a cache; each as "file:line: what"."""
    tree = ast.parse(source)
    found = []

    def allowed(name: str) -> bool:
        return (path, name) in ALLOWED or ("*", name) in ALLOWED

    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"{path}:{node.lineno}: global {', '.join(node.names)}")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name in CACHES and not allowed(node.name):
                    found.append(f"{path}:{node.lineno}: {node.name} keeps a cache ({name})")
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        mutable = isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp)
        if isinstance(value, ast.Call):
            func = value.func
            mutable = (
                func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            ) in MUTABLE_CALLS
        for target in targets:
            name = ast.unparse(target)
            if mutable and not allowed(name):
                found.append(f"{path}:{node.lineno}: {name} = {ast.unparse(value)[:60]}")
    return found


def modules() -> list[Path]:
    return sorted(FLOWS.rglob("*.py"))


def test_no_module_level_mutable_state() -> None:
    found = [
        line for path in modules() for line in module_state(str(path.relative_to(REPO)), path.read_text())
    ]
    assert not found, (
        "module-level state (put it on an object a run creates, or make it a constant):\n" + "\n".join(found)
    )


def test_every_exception_still_exists() -> None:
    """An allowance whose name is gone is removed from the list, so the list never grows stale."""
    for (path, name), _why in ALLOWED.items():
        if path == "*":
            continue
        assert f"{name}" in (REPO / path).read_text(), f"{path}: {name} is gone; remove its allowance"


@pytest.mark.parametrize(
    "source",
    [
        "_seen = {}\n",
        "_cache: dict[str, int] = {}\n",
        "RULES = [1, 2]\n",
        "_lock = threading.Lock()\n",
        "_slots = collections.defaultdict(list)\n",
        "def f():\n    global _x\n    _x = 1\n",
        "@functools.lru_cache\ndef load(x):\n    return x\n",
    ],
)
def test_the_check_finds_new_state(source: str) -> None:
    assert module_state("flows/new.py", source)


@pytest.mark.parametrize(
    "source",
    [
        "LIMIT = 3  # why\n",
        "NAMES = ('a', 'b')\n",
        "KINDS = frozenset({'a'})\n",
        "TABLE = MappingProxyType({})\n",
    ],
)
def test_constants_are_not_state(source: str) -> None:
    assert not module_state("flows/new.py", source)


# ---- tunables


def unexplained_numbers(path: str, source: str) -> list[str]:
    """Module-level UPPER_CASE names bound to numbers (or tuples of them, or arithmetic on them) with no
    comment on their line or on the line above them."""
    lines = source.splitlines()
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.lstrip("_").isupper()]
        if not names or not _numeric(node.value):
            continue
        line = lines[node.lineno - 1]
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        end = lines[(node.end_lineno or node.lineno) - 1]
        if "#" not in line and "#" not in end and not above.startswith("#"):
            found.append(f"{path}:{node.lineno}: {', '.join(names)} has no reason")
    return found


def _numeric(value: ast.expr) -> bool:
    if isinstance(value, ast.Constant):
        return isinstance(value.value, int | float) and not isinstance(value.value, bool)
    if isinstance(value, ast.Tuple):
        return bool(value.elts) and all(_numeric(v) for v in value.elts)
    if isinstance(value, ast.BinOp):
        return _numeric(value.left) and _numeric(value.right)
    if isinstance(value, ast.UnaryOp):
        return _numeric(value.operand)
    return False


def test_every_numeric_constant_outside_config_says_why() -> None:
    found = [
        line
        for path in modules()
        if path != FLOWS / "config.py"
        for line in unexplained_numbers(str(path.relative_to(REPO)), path.read_text())
    ]
    assert not found, (
        "a tunable belongs in flows/config.py (documented and validated there); an internal constant "
        "says why it is what it is:\n" + "\n".join(found)
    )


def test_the_tunables_check_finds_a_bare_number() -> None:
    assert unexplained_numbers("flows/new.py", "WINDOW = 1 << 18\n")
    assert not unexplained_numbers("flows/new.py", "WINDOW = 1 << 18  # a reason\n")
