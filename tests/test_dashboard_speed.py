"""The speed benchmark's account of where the machine's time went (dashboards/speed.py, cpu_between): a
process group's CPU seconds are the server's, the rest everything else's, and the busy share the machine's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboards import speed

BURN = "import time\nend = time.time() + 5\nwhile time.time() < end:\n    pass\n"


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux's /proc")
def test_a_busy_process_group_is_counted_as_the_server():
    before = speed._snapshot()
    burner = subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True)
    try:
        time.sleep(1.0)
        cpu = speed.cpu_between(before, speed._snapshot(), burner.pid)
    finally:
        burner.kill()
        burner.wait()
    assert 0.3 <= cpu["server"] <= 1.2  # up to one core for about a second, shared with what else runs
    assert cpu["rest"] >= 0 and 0.2 <= cpu["machine_busy_share"] <= 1.0


def test_without_the_machines_counts_there_is_no_account():
    assert speed.cpu_between((None, {}), (None, {}), 1) is None
