"""Distillation on the host: the student of each distillation hypothesis built (random weights)
and timed. Training it is out of scope: its accuracy is the published one, or unknown."""

from __future__ import annotations

from reportgen.analysis.experiments.registry import Applied, Method, Subject, register
from reportgen.text import Msg, msg


def _has_students(s: Subject) -> Msg | None:
    return None if s.students else msg("experiments.na.no_student")


def _instances(s: Subject) -> list[tuple[str, str | None]]:
    return [(st.key, st.hypothesis) for st in s.students]


def _student(s: Subject, key: str) -> Applied:
    st = next(x for x in s.students if x.key == key)
    return Applied(st.build(), make_inputs=st.make_inputs, prepare=st.prepare, comparable=False,
                   notes=[msg("experiments.note.untrained_student")])


register(Method("distill", "distillation", "reportgen.models.build",
                _student, applies=_has_students, instances=_instances, order=35))
