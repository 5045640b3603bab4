"""Support messages reach people: a customer's message mails the order desk on duty and waits
among the unanswered messages; the staff reply is mailed to the customer (signed with a name,
not an e-mail) and links to the order in the customer center. Both are in the audit log."""

import asyncio
import time
from email.message import EmailMessage

import httpx
from sqlalchemy.engine import Engine

from tests.conftest import Mailbox
from tests.utils.api import auth, create_customer, create_employee, create_product, place_order
from tests.utils.pages import customer_client, open_customer_account, staff_client


async def _mail_to(mailbox: Mailbox, address: str, subject: str) -> EmailMessage:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for mail in mailbox.to(address):
            if subject in str(mail["Subject"]):
                return mail
        await asyncio.sleep(0.2)
    raise AssertionError(f"no mail {subject!r} to {address}")


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


async def test_a_customer_message_reaches_the_desk_and_the_reply_reaches_the_customer(
    api: httpx.AsyncClient, worker, engine: Engine, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api, name="Chatty Customer")
    open_customer_account(engine, customer["id"], "chatty-pass")
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    number = order["number"]
    desk = await create_employee(api, ["order_desk"])
    assert (await api.post(f"/api/employees/{desk['id']}/clock-in", headers=auth(desk))).is_success

    shopper = await customer_client(api, customer["email"], "chatty-pass")
    sent = await shopper.post(
        f"/customer/orders/{number}/messages", {"body": "Can it come on Friday?"}
    )
    assert sent.status_code == 303
    note = await _mail_to(
        mailbox, desk["email"], f"Message from Chatty Customer about order {number}"
    )
    assert "Can it come on Friday?" in _text(note) and f"/orders/{number}#support" in _text(note)

    staff = await staff_client(api, desk["token"])
    waiting = await staff.get("/messages")
    assert waiting.status_code == 200
    assert f'data-order="{number}"' in waiting.text and "Can it come on Friday?" in waiting.text

    replied = await staff.post(f"/orders/{number}/messages", {"body": "Yes, Friday morning."})
    assert replied.status_code == 303
    answer = await _mail_to(mailbox, customer["email"], f"Re: your order {number}")
    text = _text(answer)
    assert "Yes, Friday morning." in text and "Test Employee answered" in text
    assert desk["email"] not in text
    assert f"/customer/orders/{number}" in text
    assert answer["Date"] and "Conveyor Demo Ltd" in str(answer["From"])
    # Answered: the order leaves the unanswered list; the customer sees "Our team", no e-mail.
    assert f'data-order="{number}"' not in (await staff.get("/messages")).text
    own = await shopper.get(f"/customer/orders/{number}")
    assert "Yes, Friday morning." in own.text and "Our team" in own.text
    assert desk["email"] not in own.text

    audit = (await api.get("/api/audit", params={"entity": "order", "entity_id": number})).json()
    kinds = [e["after"]["author_kind"] for e in audit["entries"] if e["action"] == "order.message"]
    assert sorted(kinds) == ["customer", "staff"]
    # Who may not answer customers does not see the list.
    picker = await staff_client(api, (await create_employee(api, ["warehouse"]))["token"])
    assert (await picker.get("/messages")).status_code == 403
    for client in (shopper, staff, picker):
        await client.aclose()


async def test_customer_mails_link_to_their_order_and_read_as_sentences(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    mail = await _mail_to(mailbox, customer["email"], order["number"])
    text = _text(mail)
    assert f"/customer/orders/{order['number']}" in text
    lines = [line for line in text.splitlines() if line.strip()]
    greeting = next(i for i, line in enumerate(lines) if line.startswith("Dear "))
    assert lines[greeting + 1][0].isupper(), lines[greeting + 1]
