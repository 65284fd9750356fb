"""The public surface is small, written down, and pinned."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import types

import posthog_client
import posthog_client.testing

PACKAGE = pathlib.Path(posthog_client.__file__).parent


def test_all_is_sorted_and_complete() -> None:
    assert posthog_client.__all__ == sorted(posthog_client.__all__)
    for name in posthog_client.__all__:  # each loads on first use (PEP 562)
        assert getattr(posthog_client, name) is not None, name
    assert set(posthog_client.__all__) <= set(dir(posthog_client))
    public = {
        name
        for name, value in vars(posthog_client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)  # submodules
    }
    settings = {"api_key", "host", "personal_api_key", "debug", "disabled", "sync_mode", "session"}
    settings |= {"on_error", "before_send", "annotations", "definitions_store"}
    # The official SDK's names for settings (project_api_key, secret_key) and the ones it has
    # that work here too.
    settings |= {"project_api_key", "secret_key", "disable_geoip", "super_properties"}
    assert public - settings == set(posthog_client.__all__) - {"__version__"}


def test_importing_the_package_or_its_pytest_plugin_loads_nothing_else() -> None:
    """The plugin is loaded in every test run of a project that installs the package; the
    package loads each public name on first use (benchmarks: "import", "pytest plugin")."""
    code = (
        "import sys, pytest; before = set(sys.modules);"
        "import posthog_client, posthog_client.testing.pytest_plugin;"
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == [  # a list of module names, beyond what pytest loads itself
        "posthog_client",
        "posthog_client._version",
        "posthog_client.testing",
        "posthog_client.testing.pytest_plugin",
    ]


def test_unknown_attributes_raise_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        posthog_client.nope  # noqa: B018
    assert posthog_client.Client is posthog_client._client.Client  # cached after the first use


def test_testing_exports() -> None:
    assert posthog_client.testing.__all__ == sorted(posthog_client.testing.__all__)


def test_import_is_warning_free_and_lazy() -> None:
    code = "import sys, posthog_client;assert 'numpy' not in sys.modules;print('ok')"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ok"


def test_stores_exports_and_redis_stays_optional() -> None:
    import posthog_client.stores

    assert posthog_client.stores.__all__ == sorted(posthog_client.stores.__all__)
    code = (
        "import sys, posthog_client, posthog_client.stores;"
        "assert 'redis' not in sys.modules and 'posthog_client._flags.store' in sys.modules;"
        "posthog_client.Client('phc_x', definitions_store='file:///tmp/none');"
        "assert 'redis' not in sys.modules;"
        "from posthog_client.stores import RedisStore;assert 'redis' in sys.modules;print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ok"
