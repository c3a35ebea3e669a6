"""Self-test of the fake Twilio API, driven with the real ``twilio`` SDK."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from fake_twilio import FakeTwilio, count_segments

TWILIO_API = "https://api.twilio.com"
FROM = "+13125550100"
TO = "+13125550101"
OTHER = "+13125550102"
SERVICE = "MG" + "0" * 32


class RewritingHttpClient(TwilioHttpClient):
    """Sends the SDK's requests for api.twilio.com to the fake instead."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.session.trust_env = False  # no HTTP(S)_PROXY for 127.0.0.1
        self.last_response = None

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        self.last_response = super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        return self.last_response


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server
        assert server.errors == []


@pytest.fixture
def client(fake):
    return Client(fake.account_sid, fake.auth_token, http_client=RewritingHttpClient(fake.base_url, timeout=10))


def send(client, to=TO, body="Hello from the outbox", **kwargs):
    kwargs.setdefault("from_", FROM)
    return client.messages.create(to=to, body=body, **kwargs)


def test_create_answers_a_message_and_records_the_request(fake, client):
    message = send(client, status_callback="https://app.example.test/twilio/status")

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert (message.to, message.from_, message.body) == (TO, FROM, "Hello from the outbox")
    assert message.account_sid == fake.account_sid
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert message.error_code is None and message.date_sent is None
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(seconds=5)
    assert message.uri == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{message.sid}.json"

    [request] = fake.requests_to(TO)
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request.form == {
        "To": TO,
        "From": FROM,
        "Body": "Hello from the outbox",
        "StatusCallback": "https://app.example.test/twilio/status",
    }
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert request.header("User-Agent").startswith("twilio-python/")
    assert request.response_status == 201
    assert fake.messages[message.sid]["status"] == "queued"


def test_messaging_service_message_is_accepted_without_a_sender(fake, client):
    message = client.messages.create(to=TO, messaging_service_sid=SERVICE, body="Hi")

    assert message.status == "accepted"
    assert message.from_ is None and message.messaging_service_sid == SERVICE
    assert fake.requests[0].form == {"To": TO, "MessagingServiceSid": SERVICE, "Body": "Hi"}
    assert fake.set_status(message.sid, "sent")["from"] == fake.default_from


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"body": "Hi", "from_": FROM}, 21604),
        ({"to": TO, "from_": FROM}, 21602),
        ({"to": TO, "body": "Hi"}, 21603),
        ({"to": "3125550101", "body": "Hi", "from_": FROM}, 21211),
    ],
)
def test_invalid_create_is_a_400(fake, client, form, code):
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(**{"to": "", **form})
    assert (raised.value.status, raised.value.code) == (400, code)
    assert fake.messages == {}


@pytest.mark.parametrize("code", [21610, 21211, 21614, 30003])
def test_configured_error_for_a_number(fake, client, code):
    fake.respond_for(OTHER, code=code)

    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            send(client, to=OTHER)
        assert (raised.value.status, raised.value.code) == (400, code)
    assert send(client, to=TO).status == "queued"
    assert [r.response_status for r in fake.requests_to(OTHER)] == [400, 400]


def test_unsubscribed_recipient_raises_21610(client, fake):
    fake.respond_for(TO, status=400, code=21610)

    with pytest.raises(TwilioRestException) as raised:
        send(client)
    error = raised.value
    assert (error.status, error.code, error.method) == (400, 21610, "POST")
    assert error.msg == "Unable to create record: Attempt to send to unsubscribed recipient"
    assert fake.requests[0].response["more_info"] == "https://www.twilio.com/docs/errors/21610"


def test_rate_limited_once_then_success(fake, client):
    fake.respond_for(TO, status=429, times=1, retry_after=2)

    with pytest.raises(TwilioRestException) as raised:
        send(client)
    assert (raised.value.status, raised.value.code) == (429, 20429)
    assert client.http_client.last_response.headers["Retry-After"] == "2"

    assert send(client).status == "queued"
    assert [r.response_status for r in fake.requests_to(TO)] == [429, 201]
    assert len(fake.messages) == 1


def test_server_error_everywhere_until_cleared(fake, client):
    fake.respond_for("*", status=500)
    fake.respond_for(OTHER, status=201)
    with pytest.raises(TwilioRestException) as raised:
        send(client)
    assert (raised.value.status, raised.value.code) == (500, 20500)
    assert send(client, to=OTHER).status == "queued"
    fake.clear_behaviour("*")
    assert send(client).status == "queued"


def test_list_filters_on_to_and_date_sent(fake, client):
    fake.clock = lambda: datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    mine = send(client, to=TO)
    send(client, to=OTHER)
    day = date(2024, 5, 1)

    found = client.messages.list(to=TO, date_sent_after=day - timedelta(days=1), date_sent_before=day)
    assert [m.sid for m in found] == [mine.sid]
    assert [m.sid for m in client.messages.list(to=TO, date_sent=datetime(2024, 5, 1, 8, 0))] == [mine.sid]
    assert client.messages.list(to=TO, date_sent=day + timedelta(days=1)) == []
    assert client.messages.list(date_sent_after=day + timedelta(days=1)) == []
    assert len(client.messages.list()) == 2

    query = fake.requests[2].query
    assert query == {"To": TO, "DateSent>": "2024-04-30T00:00:00Z", "DateSent<": "2024-05-01T00:00:00Z"}


def test_list_follows_next_pages_newest_first(fake, client):
    sids = [send(client, body=f"Message {n}").sid for n in range(5)]

    listed = client.messages.list(to=TO, page_size=2)

    assert [m.sid for m in listed] == sids[::-1]
    pages = [r for r in fake.requests if r.method == "GET"]
    assert [r.query.get("Page", "0") for r in pages] == ["0", "1", "2"]
    assert pages[0].response["next_page_uri"].startswith(f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json?")
    assert pages[2].response["next_page_uri"] is None


def test_fetch_by_sid(fake, client):
    sid = send(client).sid
    fake.set_status(sid, "undelivered", error_code=30003)

    message = client.messages(sid).fetch()

    assert (message.sid, message.status, message.error_code) == (sid, "undelivered", 30003)
    assert message.error_message == "Unreachable destination handset"
    assert message.date_sent is not None
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "f" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_wrong_credentials_are_a_401(fake):
    wrong = Client(fake.account_sid, "not-the-token", http_client=RewritingHttpClient(fake.base_url))

    with pytest.raises(TwilioRestException) as raised:
        send(wrong)
    assert (raised.value.status, raised.value.code) == (401, 20003)
    other_account = Client("AC" + "1" * 32, fake.auth_token, http_client=RewritingHttpClient(fake.base_url))
    with pytest.raises(TwilioRestException) as raised:
        send(other_account)
    assert raised.value.status == 401
    assert fake.messages == {}


class _Receiver(ThreadingHTTPServer):
    """Records form posts, answering 204."""

    def __init__(self):
        self.posts: list[tuple[str, dict[str, str], dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.posts.append((self.path, dict(parse_qsl(body)), dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def receiver():
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_status_callback_is_signed_and_sent_over_http(fake, client, receiver):
    url = f"http://127.0.0.1:{receiver.server_address[1]}/twilio/status?outbox=7"
    sid = send(client, status_callback=url).sid

    assert fake.send_status_callback(sid, "delivered") == (204, "")

    [(path, params, headers)] = receiver.posts
    assert path == "/twilio/status?outbox=7"
    assert params == {
        "AccountSid": fake.account_sid,
        "ApiVersion": "2010-04-01",
        "From": FROM,
        "MessageSid": sid,
        "MessageStatus": "delivered",
        "SmsSid": sid,
        "SmsStatus": "delivered",
        "To": TO,
    }
    assert RequestValidator(fake.auth_token).validate(url, params, headers["X-Twilio-Signature"])
    assert not RequestValidator("another-token").validate(url, params, headers["X-Twilio-Signature"])
    assert client.messages(sid).fetch().status == "delivered"


def test_status_callback_through_a_custom_transport(fake, client):
    sid = send(client, status_callback="https://app.example.test/twilio/status").sid
    posted = []

    result = fake.send_status_callback(
        sid,
        "failed",
        error_code=30003,
        post=lambda url, data, headers: posted.append((url, data, headers)) or (200, ""),
    )

    assert result == (200, "")
    [(url, data, headers)] = posted
    assert url == "https://app.example.test/twilio/status"
    assert data["ErrorCode"] == "30003" and data["MessageStatus"] == "failed"
    assert RequestValidator(fake.auth_token).validate(url, data, headers["X-Twilio-Signature"])
    assert headers["X-Twilio-Signature"] == fake.sign(url, data)
    assert fake.messages[sid]["status"] == "failed"

    fake.send_status_callback(sid, "failed", url="https://elsewhere.test/cb", auth_token="wrong", post=lambda *a: 403)
    bad = fake.webhooks[-1]
    assert not RequestValidator(fake.auth_token).validate(bad.url, bad.params, bad.headers["X-Twilio-Signature"])


def test_inbound_sms_is_signed(fake):
    posted = []
    status, body = fake.inbound(
        "https://app.example.test/twilio/inbound",
        from_=OTHER,
        to=FROM,
        body="STOP",
        post=lambda url, data, headers: posted.append((url, data, headers)) or (200, "<Response/>"),
    )

    assert (status, body) == (200, "<Response/>")
    [(url, data, headers)] = posted
    assert data["From"] == OTHER and data["To"] == FROM and data["Body"] == "STOP" and data["NumMedia"] == "0"
    assert data["MessageSid"].startswith("SM") and data["AccountSid"] == fake.account_sid
    assert RequestValidator(fake.auth_token).validate(url, data, headers["X-Twilio-Signature"])


def test_concurrent_clients(fake):
    errors = []

    def worker(n):
        try:
            client = Client(fake.account_sid, fake.auth_token, http_client=RewritingHttpClient(fake.base_url))
            for i in range(5):
                send(client, to=f"+131255501{n:02d}", body=f"{n}-{i}")
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(fake.messages) == 50
    assert len(fake.wait_for_requests(50, timeout=1)) == 50
    assert len(fake.requests_to("+13125550113")) == 5


def test_latency_and_reset(fake, client):
    fake.latency = 0.2
    started = time.monotonic()
    send(client)
    assert time.monotonic() - started >= 0.2

    fake.respond_for(TO, code=21610)
    fake.reset()
    assert (fake.requests, fake.messages, fake.latency) == ([], {}, 0.0)
    assert send(client).status == "queued"


def test_stop_closes_the_port():
    fake = FakeTwilio().start()
    url = fake.base_url + "/2010-04-01/Accounts"
    fake.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)  # noqa: S310


def test_count_segments():
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("é" * 160) == 1  # in GSM-7
    assert count_segments("ł" * 71) == 2  # UCS-2
    assert count_segments("😀" * 35) == 1  # two UTF-16 units each
