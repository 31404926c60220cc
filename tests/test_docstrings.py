"""The Python API is documented: every public function, class and method of the package has a
docstring (an override may take its base's), and the entry points of nnlm.__all__ say their
arguments, what they return and what they raise."""

import importlib
import inspect
import pkgutil

import pytest

import nnlm

ENTRY_POINTS = ("train", "load", "ngram", "neighbors", "lr_find", "plot", "sweep")


def public_definitions():
    """(qualified name, object) of every public function, class and method defined in nnlm."""
    for info in pkgutil.walk_packages(nnlm.__path__, "nnlm."):
        if info.name == "nnlm.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj
            elif inspect.isclass(obj):
                yield f"{info.name}.{name}", obj
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    member = member.fget if isinstance(member, property) else member
                    member = member.__func__ if isinstance(member, staticmethod | classmethod) else member
                    if inspect.isfunction(member):
                        yield f"{info.name}.{name}.{attr}", getattr(obj, attr)


def test_every_public_definition_has_a_docstring():
    missing = [name for name, obj in public_definitions() if not inspect.getdoc(obj)]
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_the_entry_points_say_their_arguments_returns_and_raises(name):
    doc = inspect.getdoc(getattr(nnlm, name))
    assert all(part in doc for part in ("Args:", "Returns:", "Raises:")), doc
    signature = inspect.signature(getattr(nnlm, name))
    assert signature.return_annotation is not inspect.Signature.empty
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values()
               if p.kind is not p.VAR_KEYWORD), name


def test_the_package_is_typed():
    from importlib import resources

    assert resources.files("nnlm").joinpath("py.typed").is_file()
