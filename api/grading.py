"""Grading objective questions. Questions without a key are left for a person (no points yet)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from storage.models import Question


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def award(question: Question, answer: str) -> float | None:
    """Points for one answer; None when the question has no key."""
    if question.answer is None:
        return None
    return question.points if _normalise(answer) == _normalise(question.answer) else 0.0


def grade(questions: Iterable[Question], answers: Mapping[int, str]) -> tuple[float, float]:
    """(score, max_score) over the questions that have a key; unanswered ones score zero."""
    score = max_score = 0.0
    for question in questions:
        if question.answer is None:
            continue
        max_score += question.points
        given = answers.get(question.id)
        if given is not None:
            score += award(question, given) or 0.0
    return score, max_score
