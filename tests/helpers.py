"""What several test files share: how to run the `hasy-nb` command, and the headless Chromium the browser tests drive."""
import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"Debian Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")


def hasy_nb_cmd() -> list[str]:
    "The installed `hasy-nb` script, else the same entry point through this Python."
    exe = Path(sys.executable).with_name("hasy-nb")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from hasy_nb.cli import main; sys.exit(main())"]
