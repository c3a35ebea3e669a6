"""Staff accounts: coaches, supervisors and programme admins."""
