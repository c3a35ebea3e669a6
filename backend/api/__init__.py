"""What every JSON API view shares as an entry point: the unit of work around it (actions.py)."""
