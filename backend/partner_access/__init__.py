"""Partner system access: API keys a programme admin issues to a partner's systems (HSDS read, FHIR pull)."""
