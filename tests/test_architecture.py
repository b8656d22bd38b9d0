"""What docs/architecture.md promises about the code's shape, checked where a linter does not."""
from pathlib import Path

ACADEMY = Path(__file__).resolve().parent.parent / "academy"
LONGEST = 400


def test_no_module_of_the_academy_is_longer_than_400_lines():
    too_long = {}
    for path in ACADEMY.rglob("*.py"):
        if "migrations" in path.relative_to(ACADEMY).parts:
            continue  # written by Alembic, frozen once applied
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > LONGEST:
            too_long[path.relative_to(ACADEMY.parent).as_posix()] = lines
    assert not too_long, f"modules over {LONGEST} lines (split them by responsibility): {too_long}"


def test_the_app_factory_registers_blueprints_without_importing_modules_for_their_side_effects():
    factory = (ACADEMY / "__init__.py").read_text(encoding="utf-8")
    assert "noqa: F401" not in factory, "each feature's views package builds its own blueprint"
