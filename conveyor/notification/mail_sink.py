"""A local SMTP sink for `conveyor dev`: accepts every message and keeps it as a .eml file."""

import itertools
import logging
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)
# aiosmtpd logs every SMTP command at INFO ("mail.log"): a dozen lines per message. The sink's
# own one line per message says what arrived; the server speaks up on warnings only.
SMTP_SERVER_LOGGER = "mail.log"


class MaildirSink:
    """An aiosmtpd handler that writes each message to `<folder>/<time>-<n>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:
        # A sink started again within the same second counts from 1 again: a name already
        # taken is skipped ("x" mode), never overwritten, so no kept message is lost.
        while True:
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._counter):05d}.eml"
            try:
                with open(self.folder / name, "xb") as out:
                    out.write(envelope.content)
                break
            except FileExistsError:
                continue
        subject = message_from_bytes(envelope.content, policy=default_policy)["Subject"]
        log.info("mail to %s: %s (%s)", ", ".join(envelope.rcpt_tos), subject, name)
        return "250 Message accepted for delivery"

    def messages(self) -> list[Path]:
        """The kept messages, oldest first."""
        return sorted(self.folder.glob("*.eml"))


def start_sink(folder: Path, *, host: str, port: int) -> Controller:
    """Start the sink in a background thread; call `.stop()` on the result to stop it."""
    logging.getLogger(SMTP_SERVER_LOGGER).setLevel(logging.WARNING)
    controller = Controller(MaildirSink(folder), hostname=host, port=port)
    controller.start()
    return controller


def serve_forever(folder: Path, *, host: str, port: int) -> None:
    """Run the sink until interrupted."""
    controller = start_sink(folder, host=host, port=port)
    log.info("SMTP sink on %s:%s keeps mail in %s", host, port, folder)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
