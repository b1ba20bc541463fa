"""Argument lists for FreeBSD's commands and parsers of their output: nothing here runs anything."""
