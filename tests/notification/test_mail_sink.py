"""The local SMTP sink keeps each message and logs one line for it, not every SMTP command."""

import logging
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from conveyor.core import temporal_server
from conveyor.notification.mail_sink import start_sink


async def test_the_sink_keeps_mail_and_logs_one_line_per_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as `conveyor dev` logs
    port = temporal_server.free_port()
    controller = start_sink(tmp_path, host="127.0.0.1", port=port)
    try:
        for n in range(3):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "a@x.example", "b@x.example", f"n{n}"
            mail.set_content("hello")
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)
    finally:
        controller.stop()
    assert len(list(tmp_path.glob("*.eml"))) == 3
    server_lines = [
        r for r in caplog.records if r.name == "mail.log" and r.levelno < logging.WARNING
    ]
    assert server_lines == []
    sink_lines = [r for r in caplog.records if r.name == "conveyor.notification.mail_sink"]
    assert [r.getMessage().split(": ")[1].split(" ")[0] for r in sink_lines] == ["n0", "n1", "n2"]
