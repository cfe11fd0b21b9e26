"""Connected mailboxes: the credentials vault, the connection test and its diagnosis."""
