"""The consultation use case's settings (bot/config.py reads them from the environment)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsultSettings:
    remind_hours: float = 4.0  # DXLAB_CONSULT_REMIND_HOURS: business hours before an unclaimed case's reminder
    escalate_days: int = 1  # DXLAB_CONSULT_ESCALATE_DAYS: business days before escalation to the secretariat
    idle_days: int = 5  # DXLAB_CONSULT_IDLE_DAYS: business days without a message before the assignee is nudged
    drafts_dir: str = "./kb-drafts"  # DXLAB_KB_DRAFTS_DIR
    knowledge_dir: str = ""  # DXLAB_KNOWLEDGE_DIR: where an approved draft is published ("" = the bundled one)
