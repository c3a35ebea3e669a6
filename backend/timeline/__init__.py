"""The patient timeline: everything that happened to a patient, newest first."""
