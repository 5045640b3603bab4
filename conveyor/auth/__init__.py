"""Sign-in protection: throttling failed attempts per account and per client address."""
