"""The committed artifacts are what the pinned vyper compiles from the committed sources."""

import json

import pytest

from loadtest.workloads.contracts import BUILD, compile_source, sources


@pytest.mark.parametrize("name", sources())
def test_recompiling_gives_the_committed_artifact(name):
    committed = json.loads((BUILD / f"{name}.json").read_text())
    assert compile_source(name) == committed
