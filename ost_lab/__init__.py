"""ost_lab: a Jupyter-native trading lab.

One strategy object runs in a historical replay, in sandbox (live data, simulated fills) and live;
only the data feed and the broker differ.
"""

from ost_lab._version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt front-end extension."""
    return [{"src": "labextension", "dest": "ost-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension (control API) lives in ost_lab.dashboard."""
    return [{"module": "ost_lab.dashboard"}]
