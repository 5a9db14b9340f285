"""Adapters: the outside world (IMAP, SMTP, embedded mail server, MSSanté specifics)."""
