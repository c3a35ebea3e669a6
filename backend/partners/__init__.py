"""Partner catalogue, shaped after Open Referral HSDS 3.0: organisations, services, point people, capacity."""
