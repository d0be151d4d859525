"""KPI check-ins: each lab's indicators, and every value reported for a period (corrections keep history)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base, ShortText, TZDateTime, utcnow


class KpiIndicator(Base):
    """One indicator of one lab (`members` of `shiojiri`); no foreign key to `lab`, so a directory
    re-import never silently drops a lab's history."""

    __tablename__ = "kpi_indicator"
    __table_args__ = (UniqueConstraint("lab_id", "key", name="uq_kpi_indicator_lab_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(64))  # the id the file gives (`members`)
    name: Mapped[ShortText]
    unit: Mapped[str] = mapped_column(String(32), default="")
    type: Mapped[str] = mapped_column(String(16))  # integer | decimal | percent | yen | text
    target: Mapped[float | None] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(8), default="higher")  # higher | lower
    cadence: Mapped[str] = mapped_column(String(16), index=True)  # monthly | quarterly | half | fiscal_year
    due_days: Mapped[int] = mapped_column(Integer, default=15)
    first_period: Mapped[str] = mapped_column(String(16))
    minimum: Mapped[float | None] = mapped_column(Float)
    maximum: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), default=utcnow)


class KpiValue(Base):
    """A value (or a skip with its reason) reported for one indicator and period. A correction adds a row
    and marks the earlier one not current, so the history stays."""

    __tablename__ = "kpi_value"
    __table_args__ = (Index("ix_kpi_value_current", "indicator_id", "period", "current"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("kpi_indicator.id", ondelete="CASCADE"))
    lab_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(16), index=True)
    value: Mapped[str | None] = mapped_column(Text)  # as normalised for display (`42`, `12.5`)
    number: Mapped[float | None] = mapped_column(Float)  # for charts and the 10x check; None for text
    skipped: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(255))  # a person id, or `cli:<user>`
    source: Mapped[str] = mapped_column(String(16))  # form | chat | cli
    reported_at: Mapped[dt.datetime] = mapped_column(TZDateTime())
    current: Mapped[bool] = mapped_column(default=True)
