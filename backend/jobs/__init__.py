"""Scheduled jobs: registered in one place, run by `flask --app backend worker` or in-process."""
