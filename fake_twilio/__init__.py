"""A fake of Twilio's REST API on 127.0.0.1, shared by the tests, `scripts/fake_twilio.py` and the benchmarks.

The real `twilio` SDK talks to it (see `server.FakeTwilio`); the webhooks it sends
the other way are signed with Twilio's own `RequestValidator`. Messaging lives in
`server.py`; Voice (Calls, Conferences, Participants, Recordings and a scripted
phone network on a virtual clock) is `FakeTwilio.voice`, see `voice.py`.
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
from fake_twilio.voice import (
    APPLICATION_ERROR,
    Answers,
    Busy,
    Caller,
    CallRecord,
    ConferenceRecord,
    Fails,
    NoAnswer,
    ParticipantRecord,
    RecordingRecord,
    Voicemail,
    VoiceNetwork,
    VoiceNetworkError,
    VoiceWebhook,
)

__all__ = ["APPLICATION_ERROR", "DEFAULT_ACCOUNT_SID", "DEFAULT_AUTH_TOKEN", "DEFAULT_FROM_NUMBER", "Answers", "Busy",
           "CallRecord", "Caller", "ConferenceRecord", "Fails", "FakeTwilio", "NoAnswer", "ParticipantRecord",
           "RecordedRequest", "RecordingRecord", "SentWebhook", "VoiceNetwork", "VoiceNetworkError", "VoiceWebhook",
           "Voicemail", "count_segments", "error_payload", "http_post", "rfc2822"]
