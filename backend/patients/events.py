"""What happens to patients that other capabilities act on (blinker signals).

Patients sit below caseload and messaging: instead of calling them, a change is
announced, and each capability does its part in the same transaction.
"""

from __future__ import annotations

from blinker import Namespace

_events = Namespace()

#: A patient's fields changed (sender: the Patient, already updated; `before`: the changed fields' old values).
patient_changed = _events.signal("patient-changed")
