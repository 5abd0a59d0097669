"""The container tests need a running Docker Engine; without one they are skipped."""

import docker
import pytest


def pytest_collection_modifyitems(config, items):
    try:
        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable engine
        reason = f"no Docker Engine: {exc}"
        for item in items:
            if "compose" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))
