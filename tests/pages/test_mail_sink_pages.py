"""In development the Mail page reads the local SMTP sink: every message it received (a
set-password link included, which never enters the outbox), its text, HTML and attachments."""

from email.message import EmailMessage

import aiosmtplib
import httpx

from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from conveyor.notification.mail_sink import start_sink
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_employee
from tests.utils.pages import staff_client


async def _send(port: int, subject: str, *, html: str | None = None, pdf: bytes | None = None):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "conveyor@localhost", "ann@x.example", subject
    mail["Date"] = "Wed, 02 Dec 2026 16:00:00 +0000"
    mail.set_content("Open this link: https://conveyor.example/account/set-password?token=abc")
    if html:
        mail.add_alternative(html, subtype="html")
    if pdf:
        mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="Q-1.pdf")
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)


async def test_the_mail_page_reads_the_local_sink(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    port = temporal_server.free_port()
    controller = start_sink(settings.mail_sink_dir, host="127.0.0.1", port=port)
    try:
        await _send(port, "Choose your Conveyor password")
        await _send(
            port,
            "Your quote",
            html="<p>Dear <b>Ωμέγα</b></p><script>x()</script>",
            pdf=b"%PDF-1.4 x",
        )
    finally:
        controller.stop()

    admin = await staff_client(api, ADMIN_TOKEN)
    outbox = await admin.get("/outbox")
    assert 'href="/outbox/sink"' in outbox.text
    listing = await admin.get("/outbox/sink")
    assert listing.status_code == 200
    rows = listing.text.split('data-testid="row"')[1:]
    assert len(rows) == 2 and "Your quote" in rows[0] and "Choose your Conveyor password" in rows[1]
    name = rows[0].split('data-key="', 1)[1].split('"', 1)[0]

    page = await admin.get(f"/outbox/sink/{name}")
    assert page.status_code == 200 and "ann@x.example" in page.text and "Q-1.pdf" in page.text
    html = await admin.get(f"/outbox/sink/{name}/body.html")
    assert "Ωμέγα" in html.text and "sandbox" in html.headers["content-security-policy"]
    attached = await admin.get(f"/outbox/sink/{name}/attachments/1")
    assert (
        attached.content == b"%PDF-1.4 x" and "Q-1.pdf" in attached.headers["content-disposition"]
    )
    link = rows[1].split('data-key="', 1)[1].split('"', 1)[0]
    assert "set-password?token=abc" in (await admin.get(f"/outbox/sink/{link}")).text

    # Only sink names are read: nothing outside the folder, no other file.
    for bad in ("..%2F..%2Fetc%2Fpasswd", "20261202-160000-00001.txt", "x.eml"):
        assert (await admin.get(f"/outbox/sink/{bad}")).status_code == 404, bad
    assert (await admin.get(f"/outbox/sink/{name}/attachments/2")).status_code == 404
    await admin.aclose()

    # The Mail page is the admin's (mail.view): staff are refused.
    clerk = await staff_client(api, (await create_employee(api, ["order_desk"]))["token"])
    assert (await clerk.get("/outbox/sink")).status_code == 403
    await clerk.aclose()


async def test_outside_development_there_is_no_sink_page(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    state = api._transport.app.state.conveyor
    state.settings = state.settings.model_copy(update={"dev_mail_sink": False})
    admin = await staff_client(api, ADMIN_TOKEN)
    assert (await admin.get("/outbox/sink")).status_code == 404
    assert 'href="/outbox/sink"' not in (await admin.get("/outbox")).text
    await admin.aclose()
