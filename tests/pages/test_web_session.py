"""The signed session cookie: round trip, tampering and expiry."""

import time

from pages.web import WebSession, decode_session, encode_session

SECRET = b"k" * 32


def test_round_trip_and_tampering() -> None:
    web = WebSession(kind="employee", subject_id=7)
    value = encode_session(web, SECRET)
    back = decode_session(value, SECRET)
    assert back is not None and (back.kind, back.subject_id, back.csrf) == ("employee", 7, web.csrf)
    assert decode_session(value, b"other-secret" * 3) is None
    body, signature = value.rsplit(".", 1)
    forged = encode_session(WebSession(kind="admin"), b"guess").rsplit(".", 1)[0]
    assert decode_session(f"{forged}.{signature}", SECRET) is None
    assert decode_session(f"{body}.{'0' * 64}", SECRET) is None
    assert decode_session("garbage", SECRET) is None
    assert decode_session("", SECRET) is None


def test_expired_session_is_anonymous() -> None:
    old = WebSession(kind="customer", subject_id=1, issued=time.time() - 13 * 3600)
    assert decode_session(encode_session(old, SECRET), SECRET) is None
