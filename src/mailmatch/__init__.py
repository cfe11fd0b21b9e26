"""mailmatch: connect mailboxes with app-specific passwords, import mail, match it to people."""

__version__ = "0.1.0"
