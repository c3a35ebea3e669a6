"""A fake of Twilio's REST API on 127.0.0.1, shared by the tests, `scripts/fake_twilio.py` and the benchmarks.

The real `twilio` SDK talks to it (see `server.FakeTwilio`); the webhooks it sends
the other way are signed with Twilio's own `RequestValidator`. Messaging lives in
`server.py` today; Voice (Calls, Conferences, Participants) is added beside it.
"""

from fake_twilio.server import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM_NUMBER,
    FakeTwilio,
    RecordedRequest,
    SentWebhook,
    count_segments,
    error_payload,
    http_post,
    rfc2822,
)

__all__ = ["DEFAULT_ACCOUNT_SID", "DEFAULT_AUTH_TOKEN", "DEFAULT_FROM_NUMBER", "FakeTwilio", "RecordedRequest",
           "SentWebhook", "count_segments", "error_payload", "http_post", "rfc2822"]
