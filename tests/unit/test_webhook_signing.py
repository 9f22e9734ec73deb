"""Standard Webhooks signatures: the specification's vector, verification, tampering, replay window."""

from infra.webhook_signing import refusal, sign_headers, signature, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_signature_matches_the_standard_webhooks_test_vector():
    sig = signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signed_headers_verify_and_a_changed_body_does_not():
    body = b'{"text":"drift"}'
    headers = sign_headers(SECRET, "evt-1.slack", body, now=1_700_000_000)
    assert headers["webhook-id"] == "evt-1.slack" and headers["webhook-timestamp"] == "1700000000"
    assert verify(SECRET, headers, body, now=1_700_000_010)
    assert not verify(SECRET, headers, body + b" ", now=1_700_000_010)
    assert not verify("whsec_" + "QUJD", headers, body, now=1_700_000_010)


def test_an_old_timestamp_is_refused_and_one_of_several_signatures_suffices():
    body = b"{}"
    headers = sign_headers("raw-secret", "m", body, now=1000)
    assert not verify("raw-secret", headers, body, now=1000 + 301)
    headers["webhook-signature"] = "v1,bm90LWl0 " + headers["webhook-signature"]
    assert verify("raw-secret", headers, body, now=1000)


def test_without_a_secret_no_signature_header_is_sent():
    assert "webhook-signature" not in sign_headers(None, "m", b"{}")


def test_a_refusal_says_why():
    body = b"{}"
    headers = sign_headers(SECRET, "m", body, now=1000)
    assert refusal(SECRET, headers, body, now=1000) is None
    assert refusal(SECRET, {k: v for k, v in headers.items() if k != "webhook-signature"}, body, now=1000) == "unsigned"
    assert refusal(SECRET, {**headers, "webhook-timestamp": "soon"}, body, now=1000) == "unsigned"
    assert refusal(SECRET, headers, body, now=1000 + 301) == "stale"
    assert refusal(SECRET, headers, b"{ }", now=1000) == "bad signature"
