"""The directory at run time: importing files into the database, and the embedded demo directory."""

from bot.directory.service import import_files, read_files

__all__ = ["import_files", "read_files"]
