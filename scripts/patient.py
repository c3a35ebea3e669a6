#!/usr/bin/env python3
"""Play a patient against a running Bridgeline: send a text as Twilio would deliver it (signed).

    scripts/patient.py text +17735550100 "Can we talk tomorrow?"      # demo patient 0 writes to the programme
    scripts/patient.py text +17735550100 ALTO                         # a Spanish STOP: the product confirms it

The app must run with the fake Twilio's settings (see README, "Try it as a patient"): the signature is made with
TWILIO_AUTH_TOKEN (default: the fake's token) for the URL at APP_URL (default http://127.0.0.1:5000, which must
be the app's PUBLIC_BASE_URL). Prints the status and the text the product answers, if any. For a phone call, run
scripts/fake_twilio.py --demo-call APP_URL.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

try:
    from twilio.request_validator import RequestValidator
except ModuleNotFoundError:  # run with a python that lacks the SDK: retry with the project's virtualenv
    VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
    if not VENV_PYTHON.exists() or os.environ.get("PATIENT_REEXEC"):
        sys.exit("The twilio package is missing: run scripts/run or scripts/test once first")
    os.environ["PATIENT_REEXEC"] = "1"
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])  # noqa: S606

from fake_twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, DEFAULT_FROM_NUMBER  # noqa: E402


def send_text(app_url: str, token: str, from_: str, to: str, body: str) -> tuple[int, str]:
    """POST a signed inbound-SMS webhook; returns the status and the app's TwiML."""
    url = f"{app_url.rstrip('/')}/webhooks/twilio/sms"
    sid = "SM" + secrets.token_hex(16)
    params = {"AccountSid": DEFAULT_ACCOUNT_SID, "ApiVersion": "2010-04-01", "Body": body, "From": from_, "To": to,
              "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "NumMedia": "0", "SmsStatus": "received"}
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST", headers={  # noqa: S310
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the URL we were given
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-url", default=os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN))
    parser.add_argument("--to", default=DEFAULT_FROM_NUMBER, help="the programme's number (default: the demo's)")
    sub = parser.add_subparsers(dest="command", required=True)
    text = sub.add_parser("text", help="send a text from FROM")
    text.add_argument("from_", metavar="FROM")
    text.add_argument("body")
    args = parser.parse_args(argv)
    status, answer = send_text(args.app_url, args.auth_token, args.from_, args.to, args.body)
    replies = re.findall(r"<Message>(.*?)</Message>", answer, re.S)
    print(f"{status}: " + (f"the product answers: {replies[0]}" if replies else
                           "no text back from the product (a keyword Twilio answers itself, or a reply that reached "
                           "the coach as a task and on the timeline)"))
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
