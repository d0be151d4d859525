"""Static assets of the local web chat page (package data)."""
