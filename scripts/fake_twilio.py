#!/usr/bin/env python3
"""Serve the fake Twilio API (fake_twilio/: Messages, and Voice with its scripted phones) until Ctrl+C.

Prints the settings to export for the app, then one redacted line per request:
message SIDs, statuses and error codes, never phone numbers or bodies.

    scripts/fake_twilio.py --port 8765 [--auto-deliver 1.0] [--demo-call http://127.0.0.1:5000]

With --demo-call, once the app answers it places one warm-line call into the demo programme's number from a new
caller: the on-shift coaches are rung one at a time (coach 1's phone rings out, coach 2 presses 1 and talks for
two minutes). Each step prints as it happens, and the call shows
up in the API (GET /api/v1/warm-line/today as supervisor@demo.test) and on the console.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

try:
    import twilio  # noqa: F401
except ModuleNotFoundError:  # run with a python that lacks the SDK: retry with the project's virtualenv
    VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
    if not VENV_PYTHON.exists() or os.environ.get("FAKE_TWILIO_REEXEC"):
        sys.exit("The twilio package is missing: pip install -r requirements-dev.txt")
    os.environ["FAKE_TWILIO_REEXEC"] = "1"
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])  # noqa: S606

from fake_twilio import (  # noqa: E402
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM_NUMBER,
    FakeTwilio,
    RecordedRequest,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default: %(default)s)")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID, help="account SID to expect")
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN, help="auth token to expect")
    parser.add_argument(
        "--auto-deliver",
        type=float,
        metavar="SECONDS",
        help="after this delay, mark each new message sent then delivered and POST signed status callbacks",
    )
    parser.add_argument("--demo-call", metavar="APP_URL",
                        help="place a demo warm-line call into the app at APP_URL (its PUBLIC_BASE_URL)")
    return parser.parse_args(argv)


def demo_call(fake: FakeTwilio, app_url: str) -> None:
    """Wait for the app, then play one warm-line call through its signed webhooks, printing each step."""
    import urllib.request

    from fake_twilio.voice import Answers, Caller, NoAnswer

    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{app_url}/readyz", timeout=2):  # noqa: S310 - a local URL we were given
                break
        except OSError:
            threading.Event().wait(1)
    net = fake.voice
    net.number(DEFAULT_FROM_NUMBER, voice_url=f"{app_url}/webhooks/twilio/voice",
               status_callback=f"{app_url}/webhooks/twilio/voice/status")
    net.phone("+13125550111", NoAnswer())  # coach1@demo.test, on shift
    net.phone("+13125550112", Answers(after=4, press="1", stay=120))  # coach2@demo.test, on shift
    net.dial(from_="+16305550199", to=DEFAULT_FROM_NUMBER, caller=Caller(stay=150))
    net.run()
    for hook in net.webhooks:
        path = hook.url.split("/webhooks/twilio/voice", 1)[-1] or "/ (incoming)"
        print(f"demo call: {hook.kind:<10} {path:<28} -> {hook.status}", flush=True)
    for call in net.calls.values():
        print(f"demo call: leg {call.sid[:10]}... {call.direction:<12} {call.status} ({call.duration or 0} s)",
              flush=True)
    print("demo call: errors: " + ("; ".join(net.errors) if net.errors else "none"), flush=True)


def summary(request: RecordedRequest) -> str:
    """One line about a request, without phone numbers, bodies or credentials."""
    response = request.response or {}
    resource = next((name for name in ("Messages", "Calls", "Conferences", "Recordings") if f"/{name}" in request.path),
                    "Accounts")
    endpoint = resource if request.path.endswith(f"/{resource}.json") else f"{resource}/{{sid}}"
    line = f"{request.method} {endpoint} -> {request.response_status}"
    if request.response_status >= 400:
        return f"{line} error {response.get('code')}"
    if "messages" in response:
        return f"{line} ({len(response['messages'])} messages, page {response.get('page')})"
    if "sid" in response:
        return f"{line} {response['sid']} {response.get('status')}"
    return line


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, host=args.host, port=args.port)

    def deliver(sid: str) -> None:
        for status in ("sent", "delivered"):
            try:
                result = fake.send_status_callback(sid, status)
            except ValueError:  # no StatusCallback: just move the status on
                fake.set_status(sid, status)
                result = "no StatusCallback"
            except KeyError:  # deleted meanwhile
                return
            except OSError as error:
                result = f"callback failed: {type(error).__name__}"
            print(f"status callback {sid} {status} -> {result if isinstance(result, str) else result[0]}", flush=True)

    def listener(request: RecordedRequest) -> None:
        print(summary(request), flush=True)
        if args.auto_deliver is not None and request.is_create and request.response_status == 201:
            sid = (request.response or {})["sid"]
            timer = threading.Timer(args.auto_deliver, deliver, args=(sid,))
            timer.daemon = True
            timer.start()

    fake.listener = listener
    fake.start()
    print(
        "Fake Twilio API is serving; export these for the app:\n\n"
        f"export TWILIO_ACCOUNT_SID={fake.account_sid}\n"
        f"export TWILIO_AUTH_TOKEN={fake.auth_token}\n"
        f"export TWILIO_API_BASE_URL={fake.base_url}\n"
        f"export TWILIO_FROM_NUMBER={DEFAULT_FROM_NUMBER}\n\n"
        "Ctrl+C to stop.",
        flush=True,
    )
    if args.demo_call:
        threading.Thread(target=demo_call, args=(fake, args.demo_call.rstrip("/")), daemon=True).start()
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: it may be ignored when started in the background
        signal.signal(signum, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        fake.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
