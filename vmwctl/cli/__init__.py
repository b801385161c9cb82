"""The command line: parse, call the domain code, render. Nothing else lives here."""
