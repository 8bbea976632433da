"""Pure parsing: raw RFC 5322 bytes in, frozen dataclasses out."""
