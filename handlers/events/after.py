"""After an event: attendance marked by the organiser or the secretariat, a short survey to those who came
(1–5 and a comment), and the summary the secretariat reads (RSVP against attendance, scores, comments)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

from handlers.address import Address
from handlers.events.broadcast import Desk
from handlers.events.model import Answer, Status, SurveyAnswer
from handlers.events.rsvp import who
from handlers.i18n import t
from handlers.messages import Form, FormField, Reply, ReplyKind
from handlers.outcome import Lane, Send

SURVEY_FORM = "event.survey"
SCORES = ("5", "4", "3", "2", "1")
ATTENDANCE_COLUMNS = ("person", "name", "lab_id", "answer", "status", "answered_at", "attended", "score", "comment")


def survey_form(event_id: int, title: str) -> Form:
    return Form(SURVEY_FORM, t("event.survey.form_title"), (
        FormField("score", t("event.survey.score"), options=tuple((s, t(f"event.survey.score_{s}")) for s in SCORES)),
        FormField("comment", t("event.survey.comment"), multiline=True, required=False),
    ), t("event.survey.submit"), context=str(event_id))


def mark_attendance(desk: Desk, event_id: int, present: Iterable[str]) -> tuple[int, list[Send]] | None:
    """Mark who came (directory ids or platform:@user references); everyone else who was coming is marked
    absent. Each newly present person gets the survey once (key `event:<id>:survey:<person>`)."""
    event = desk.uow.events.event(event_id)
    if event is None:
        return None
    came = set(present)
    sends = []
    rows = desk.uow.events.rsvps(event_id)
    known = {r.person for r in rows}
    unknown = came - known
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    for r in rows:
        attended = r.person in came
        if r.status != Status.GOING and not attended:
            continue
        desk.uow.events.set_attended(event_id, r.person, attended)
        if attended and not r.attended:
            reply = Reply(text=t("event.survey.invite", title=event.title), title=t("event.survey.title"),
                          kind=ReplyKind.PROACTIVE, form=survey_form(event_id, event.title))
            sends.append(Send(Address.from_json(r.address_json), reply, f"event:{event_id}:survey:{r.person}",
                              not_before=desk.dm_time(), lane=Lane.BULK))
    return len(came), sends


def submit_survey(desk: Desk, event_id: int, address: Address, values: dict[str, str]) -> str:
    """Store an attendee's answer (again: the newest counts); the i18n key of what to tell them."""
    ref, _, _ = who(desk, address)
    rsvp = desk.uow.events.rsvp(event_id, ref)
    if rsvp is None or not rsvp.attended:
        return "event.survey.not_attendee"
    score = values.get("score", "").strip()
    if score not in SCORES:
        return "event.survey.bad_score"
    desk.uow.events.save_survey(SurveyAnswer(event_id, ref, int(score), values.get("comment", "").strip()[:2000],
                                             desk.now))
    return "event.survey.thanks"


def summary(desk: Desk, event_id: int) -> dict[str, Any] | None:
    event = desk.uow.events.event(event_id)
    if event is None:
        return None
    rows = desk.uow.events.rsvps(event_id)
    answers = Counter(r.answer for r in rows)
    going = [r for r in rows if r.status == Status.GOING]
    surveys = desk.uow.events.surveys(event_id)
    scores = Counter(str(s.score) for s in surveys)
    return {
        "event": event.id, "title": event.title, "starts_at": event.starts_at.isoformat(), "state": event.state,
        "capacity": event.capacity, **{f"answered_{a.value}": answers[a.value] for a in Answer},
        "going": len(going), "waitlisted": sum(r.status == Status.WAITLISTED for r in rows),
        "attended": sum(bool(r.attended) for r in rows),
        "no_show": sum(r.attended is False for r in going),
        "walk_in": sum(bool(r.attended) and r.status != Status.GOING for r in rows),
        "survey_responses": len(surveys),
        "survey_average": round(sum(s.score for s in surveys) / len(surveys), 2) if surveys else None,
        "survey_scores": {s: scores[s] for s in SCORES},
        "comments": [s.comment for s in surveys if s.comment],
    }


def attendance_rows(desk: Desk, event_id: int) -> list[dict[str, Any]]:
    """One row per person who answered, with their survey (the CSV and the admin table)."""
    surveys = {s.person: s for s in desk.uow.events.surveys(event_id)}
    out = []
    for r in desk.uow.events.rsvps(event_id):
        s = surveys.get(r.person)
        out.append({**{k: v for k, v in dataclasses.asdict(r).items() if k not in ("address_json", "event_id")},
                    "answered_at": r.answered_at.isoformat(), "score": s.score if s else None,
                    "comment": s.comment if s else ""})
    return out
