"""The service shell: settings, wiring, adapters (IMAP, listener, SMTP, Maildir), CLI."""
