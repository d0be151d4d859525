"""The directory: who is who (labs, people, experts, roles), read from the file the secretariat edits."""

from handlers.directory.check import Change, Plan, plan_import
from handlers.directory.export import to_csv, to_yaml
from handlers.directory.model import (
    Directory,
    Expert,
    ExpertProfile,
    Lab,
    Person,
    Role,
    SecretariatChannels,
)
from handlers.directory.parse import Parsed, Problem, parse_files

__all__ = [
    "Change", "Directory", "Expert", "ExpertProfile", "Lab", "Parsed", "Person", "Plan", "Problem", "Role",
    "SecretariatChannels", "parse_files", "plan_import", "to_csv", "to_yaml",
]
