"""Coach wellness: self-reported check-ins and supervision sessions."""
