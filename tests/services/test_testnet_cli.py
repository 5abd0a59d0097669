"""``pavm testnet up`` runs until Ctrl-C and then stops everything it started."""

import signal
import subprocess
import sys
import time

from loadtest.testnet import process as testnet


def test_ctrl_c_stops_every_process(tmp_path):
    port = testnet.free_base_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadtest.cli",
            "testnet",
            "up",
            "--validators",
            "2",
            "--workers",
            "1",
            "--transport",
            "redis",
            "--data-dir",
            str(tmp_path),
            "--base-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C at a terminal: SIGINT at its default even when the suite itself runs as
        # a background job, whose shell makes children ignore SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("JSON-RPC:"):
                break
        assert any(line.startswith("JSON-RPC:") for line in lines), "".join(lines)
        net = testnet.Testnet.load(tmp_path)
        rows = testnet.status(net)
        assert [r["name"] for r in rows] == ["redis", "miner", "validator-1", "validator-2"]
        assert all(r["alive"] for r in rows)
        assert all(r.get("healthy", True) for r in rows)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        assert not any(r["alive"] for r in testnet.status(net))
    finally:
        if process.poll() is None:
            process.kill()
