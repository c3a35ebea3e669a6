"""42 CFR Part 2 consent: what may be disclosed to whom, and the accounting of every disclosure."""
