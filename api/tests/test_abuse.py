"""The abuse test (api/abuse_test.py) against the real server: slow clients, a trickling image_url, elongated and
mutated images. It starts gunicorn as the README serves it, on 127.0.0.1 only, and takes about a minute."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "abuse_test.py"


def test_the_served_api_withstands_abuse() -> None:
    # A subprocess, as a deployment runs it; its figures are printed by pytest when a bound is broken.
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
