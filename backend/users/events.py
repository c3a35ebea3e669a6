"""What happens to staff accounts that other capabilities act on (blinker signals, Flask's own dependency).

Users sit below auth: instead of calling auth, they announce, and auth ends the sessions.
"""

from __future__ import annotations

from blinker import Namespace

_events = Namespace()

#: A user's access was withdrawn or changed (sender: the user id; `reason`): their sessions must end now.
access_withdrawn = _events.signal("access-withdrawn")
