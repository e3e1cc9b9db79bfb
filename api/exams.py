"""Exams with their questions, and enrolment of candidates and proctors."""

from __future__ import annotations

from sqlalchemy import select

from alerts.presets import resolve_rules
from api.access import is_enrolled, load_exam, visible_exams
from api.errors import not_found, unprocessable
from api.operation import Call
from api.schemas import EnrolBody, EnrolOut, ExamIn, ExamList, ExamOut, QuestionOut
from storage.models import Enrolment, Exam, Question, Role, User


def exam_out(exam: Exam, viewer: User) -> ExamOut:
    staff = viewer.role != Role.CANDIDATE
    questions = [
        QuestionOut(
            id=q.id,
            position=q.position,
            text=q.text,
            options=list(q.options),
            points=q.points,
            answer=q.answer if staff else None,  # candidates never see the key
        )
        for q in exam.questions
    ]
    return ExamOut(
        id=exam.id,
        title=exam.title,
        description=exam.description,
        duration_minutes=exam.duration_minutes,
        show_score=exam.show_score,
        rules_preset=exam.rules_preset,
        rules_overrides=exam.rules_overrides,
        retention_days=exam.retention_days,
        record_screen=exam.record_screen,
        questions=questions,
        created_at=exam.created_at,
    )


async def create_exam(call: Call) -> ExamOut:
    body: ExamIn = call.body
    try:
        resolve_rules(body.rules_preset, body.rules_overrides)
    except ValueError as error:
        raise unprocessable("invalid_rules", f"rules_overrides: {error}") from None
    exam = Exam(
        title=body.title,
        description=body.description,
        duration_minutes=body.duration_minutes,
        show_score=body.show_score,
        rules_preset=body.rules_preset,
        rules_overrides=body.rules_overrides,
        retention_days=body.retention_days,
        record_screen=body.record_screen,
        created_by=call.caller.id,
        questions=[
            Question(position=i, text=q.text, options=q.options, answer=q.answer, points=q.points)
            for i, q in enumerate(body.questions)
        ],
    )
    async with call.services.db() as db:
        db.add(exam)
        await db.flush()
        if call.caller.role == Role.PROCTOR:
            # A proctor watches what they create; otherwise they could not see it.
            db.add(Enrolment(exam_id=exam.id, user_id=call.caller.id, role=Role.PROCTOR.value))
        await db.commit()
        exam = await load_exam(db, call.caller, exam.id)
        return exam_out(exam, call.caller)


async def list_exams(call: Call) -> ExamList:
    async with call.services.db() as db:
        exams = (await db.execute(visible_exams(call.caller).order_by(Exam.id))).scalars().all()
        return ExamList(exams=[exam_out(exam, call.caller) for exam in exams])


async def get_exam(call: Call) -> ExamOut:
    async with call.services.db() as db:
        exam = await load_exam(db, call.caller, call.path_int("exam_id"))
        return exam_out(exam, call.caller)


async def _enrol(call: Call, role: Role, allowed_roles: tuple[Role, ...]) -> EnrolOut:
    body: EnrolBody = call.body
    exam_id = call.path_int("exam_id")
    async with call.services.db() as db:
        await load_exam(db, call.caller, exam_id)
        if call.caller.role == Role.PROCTOR and not await is_enrolled(
            db, call.caller, exam_id, Role.PROCTOR
        ):
            raise not_found(f"exam {exam_id}")
        users = list(
            (
                await db.execute(
                    select(User).where(
                        User.id.in_(body.user_ids) | User.username.in_(body.usernames)
                    )
                )
            ).scalars()
        )
        found_ids = {u.id for u in users}
        found_names = {u.username for u in users}
        missing = [str(i) for i in body.user_ids if i not in found_ids]
        missing += [n for n in body.usernames if n not in found_names]
        if missing:
            raise unprocessable("unknown_users", f"no such users: {', '.join(missing)}")
        wrong = [u.username for u in users if u.role not in allowed_roles]
        if wrong:
            allowed = " or ".join(allowed_roles)
            raise unprocessable(
                "wrong_role", f"only a {allowed} can be enrolled here: {', '.join(wrong)}"
            )
        existing = set(
            (
                await db.execute(
                    select(Enrolment.user_id).where(
                        Enrolment.exam_id == exam_id, Enrolment.role == role
                    )
                )
            ).scalars()
        )
        for user in users:
            if user.id not in existing:
                db.add(Enrolment(exam_id=exam_id, user_id=user.id, role=role.value))
        await db.commit()
    return EnrolOut(exam_id=exam_id, role=role.value, user_ids=sorted(found_ids))  # type: ignore[arg-type]


async def enrol_candidates(call: Call) -> EnrolOut:
    return await _enrol(call, Role.CANDIDATE, (Role.CANDIDATE,))


async def enrol_proctors(call: Call) -> EnrolOut:
    return await _enrol(call, Role.PROCTOR, (Role.PROCTOR, Role.ADMIN))
