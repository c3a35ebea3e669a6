"""Authentication: passwords, JWT sessions for the app, login throttling."""
