"""No code outside ``shared/channels/`` names a provider: what a channel varies in is its adapter's
(shared/channels/base.py), so adding a channel never means finding the branches that name the others.

A provider's name as a string literal (``"twilio"``, ``'telegram'``) in ``shared/`` (except
``shared/channels/``), ``functions/`` or ``main.py`` fails the test, naming file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from shared import channels
from tests.support import REPO

# Every registered channel's name, quoted either way (today whatsapp, messenger, instagram, telegram
# and twilio).
NAMES = re.compile("[\"'](" + "|".join(map(re.escape, channels.kinds())) + ")[\"']")


def checked_files() -> list[Path]:
    adapters = REPO / "shared" / "channels"
    shared = [path for path in (REPO / "shared").rglob("*.py") if not path.is_relative_to(adapters)]
    return sorted([*shared, *(REPO / "functions").rglob("*.py"), REPO / "main.py"])


def channel_names_in(path: Path, root: Path = REPO) -> list[str]:
    """``file:line: text`` of every provider name written as a string literal in ``path``."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if NAMES.search(line):
            found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_every_registered_channel_name_is_looked_for() -> None:
    for kind in ("whatsapp", "messenger", "instagram", "telegram", "twilio"):
        assert NAMES.search(f'channel == "{kind}"') and NAMES.search(f"('{kind}',)")
    assert not NAMES.search("webhook_twilio") and not NAMES.search('"twilio-auth-token"')


def test_the_check_sees_the_code_it_is_about() -> None:
    files = checked_files()
    assert REPO / "main.py" in files and REPO / "shared" / "outbox" / "replies.py" in files
    assert REPO / "functions" / "webhook.py" in files
    assert not any(path.is_relative_to(REPO / "shared" / "channels") for path in files)


def test_the_check_names_file_and_line(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('x = 1\nif channel == "telegram":\n    pass\n')
    assert channel_names_in(probe, tmp_path) == ['probe.py:2: if channel == "telegram":']


def test_no_provider_name_outside_shared_channels() -> None:
    found = [hit for path in checked_files() for hit in channel_names_in(path)]
    assert found == [], (
        "provider names outside shared/channels/ (make it an attribute or method of the channel "
        "protocol, shared/channels/base.py, instead):\n" + "\n".join(found)
    )
