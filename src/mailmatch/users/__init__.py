"""People who sign in to the web app and the API: accounts, passwords, tokens, sessions."""
