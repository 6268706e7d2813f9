"""runtime: the report every notebook's setup cell prints, and the range check behind it."""

from importlib import metadata

from packaging.specifiers import SpecifierSet

from fashion_mrcnn import runtime


def test_declared_ranges_come_from_the_installed_metadata():
    ranges = runtime.declared_ranges()
    assert set(ranges) == {"python", "tensorflow", "keras", "numpy"}
    for name in ("tensorflow", "keras"):
        assert metadata.version(name) in SpecifierSet(ranges[name]), (
            f"CI runs {name} {metadata.version(name)} outside the declared {ranges[name]}"
        )


def test_this_stack_is_inside_the_declared_ranges():
    assert runtime.outside_ranges() == []


def test_a_version_outside_the_range_is_named(monkeypatch):
    real = runtime.installed_version
    monkeypatch.setattr(
        runtime, "installed_version", lambda n: "2.12.0" if n == "tensorflow" else real(n)
    )
    [problem] = runtime.outside_ranges()
    assert problem.startswith("tensorflow 2.12.0 is outside the supported range")
    assert "warning: tensorflow 2.12.0" in runtime.runtime_report()
