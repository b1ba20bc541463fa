"""Parsers and editors of the FreeBSD files jailprov edits: pure text in, text out."""
