"""The claims' pytest plugin is ``claims/plugin.py``, registered under the ``pytest11`` entry point
(pyproject.toml) so that an installed copy runs claims from any folder. In a clone whose package
is not installed (a plain ``pytest`` with the repository on the path), it is loaded from here."""

from importlib.metadata import entry_points

if not any(ep.value == "claims.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["claims.plugin"]
