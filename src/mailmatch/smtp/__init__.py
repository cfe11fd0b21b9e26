"""SMTP sessions: one way to connect, secure and log in, for the connection test and sending."""
