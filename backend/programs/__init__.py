"""Programmes: a hospital peer recovery coach programme; every record belongs to one."""
