"""Reading a session's cases from the records for the reports (the only I/O of reports/)."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import select

from jianyi.models.db import session_for
from jianyi.models.tables import (
    Commitment,
    CommitmentProgress,
    Escalation,
    Evaluation,
    Reply,
    Suggestion,
    in_number_order,
)
from jianyi.reports.figures import CaseRow
from jianyi.reports.figures import Evaluation as Judged


def load_cases(url: str, session: str, period: str | None = None) -> list[CaseRow]:
    with session_for(url) as db:
        q = select(Suggestion).where(Suggestion.session == session)
        if period:
            q = q.where(Suggestion.period == period)
        suggestions = list(db.exec(q.order_by(*in_number_order())))
        ids = [s.id for s in suggestions]
        evaluations = _by_case(db.exec(select(Evaluation).where(Evaluation.suggestion_id.in_(ids))))  # type: ignore[attr-defined]
        replies = _by_case(db.exec(select(Reply).where(Reply.suggestion_id.in_(ids)).order_by(Reply.id)))  # type: ignore[attr-defined]
        commitments = _by_case(db.exec(select(Commitment).where(Commitment.suggestion_id.in_(ids))))  # type: ignore[attr-defined]
        escalations = _by_case(db.exec(select(Escalation).where(Escalation.suggestion_id.in_(ids))))  # type: ignore[attr-defined]
    return [_row(s, evaluations[s.id], replies[s.id], commitments[s.id], escalations[s.id]) for s in suggestions]


def _by_case(rows) -> dict[str, list]:  # noqa: ANN001
    out: dict[str, list] = defaultdict(list)
    for r in rows:
        out[r.suggestion_id].append(r)
    return out


def _row(s: Suggestion, evaluations: list[Evaluation], replies: list[Reply], commitments: list[Commitment],
         escalations: list[Escalation]) -> CaseRow:
    reached = [r for r in replies if r.review_status in ("已通过", "无需审核")]
    return CaseRow(
        id=s.id, number=s.number, title=s.title, period=s.period, category=s.category, lead_deputy=s.lead_deputy,
        co_signers=list(s.co_signers), state=s.state, outcome=s.outcome, lead_unit=s.lead_unit, co_handlers=list(s.co_handlers),
        key_supervision=s.key_supervision, assigned_at=s.assigned_at, signed_at=s.signed_at,
        replied_at=reached[0].replied_at if reached else None, on_time_reply=reached[0].on_time if reached else None,
        reply_class=reached[-1].reply_class if reached else "",
        evaluations=[Judged(e.round, e.work, e.result) for e in evaluations],
        commitments=[c.status for c in commitments],
        escalations=[(e.reason, e.resolved_at is not None) for e in escalations],
    )


def commitment_rows(url: str, session: str) -> list[tuple[Suggestion, Commitment, list[CommitmentProgress]]]:
    """承诺事项台账: each commitment with its suggestion and its progress reports."""
    with session_for(url) as db:
        pairs = db.exec(select(Suggestion, Commitment).where(Commitment.suggestion_id == Suggestion.id, Suggestion.session == session)
                        .order_by(*in_number_order(), Commitment.number))
        out = []
        for s, c in pairs:
            progress = list(db.exec(select(CommitmentProgress).where(CommitmentProgress.suggestion_id == s.id,
                                                                     CommitmentProgress.number == c.number).order_by(CommitmentProgress.reported_at)))
            out.append((s, c, progress))
        return out
