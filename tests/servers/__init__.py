"""Real servers (Dovecot, aiosmtpd) and scripted ones that the tests run against."""
