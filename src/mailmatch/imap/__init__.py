"""IMAP: opening an authenticated session, finding folders, provider quirks."""
