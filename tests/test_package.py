"""The package's top level: lazy public names, a light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ost_lab


@pytest.mark.parametrize("name", [n for n in ost_lab.__all__ if n != "__version__"])
def test_every_public_name_resolves(name):
    assert getattr(ost_lab, name).__name__ == name


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ost_lab.Nope  # noqa: B018


def test_import_does_not_load_the_heavy_parts():
    code = (
        "import sys, ost_lab; "
        "print(sorted(m for m in ('pandas', 'numba', 'bokeh', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_core_imports_no_connector_widget_or_jupyter_code():
    code = (
        "import sys, ost_lab.core; "
        "bad = [m for m in sys.modules if m.startswith(('ost_lab.connectors', 'ost_lab.widgets', "
        "'ost_lab.dashboard', 'ipywidgets', 'jupyter', 'bokeh', 'ib_async'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
