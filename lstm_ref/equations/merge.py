"""The bidirectional merge of the two directions' outputs at each step.

    concat: y_t = [h->_t ; h<-_t]       sum: y_t = h->_t + h<-_t
    ave:    y_t = (h->_t + h<-_t) / 2   mul: y_t = h->_t * h<-_t
    none:   the two outputs are kept apart, y_t = (h->_t, h<-_t)

concat and none only arrange elements; sum, ave and mul are elementwise equations.
"""

from __future__ import annotations

from lstm_ref.equations.program import Program, ProgramBuilder
from lstm_ref.spec import Spec

MEANING = {
    "sum": "the merged output adds the two directions",
    "ave": "the merged output averages the two directions",
    "mul": "the merged output multiplies the two directions",
}


def program(spec: Spec) -> Program | None:
    """The merge as an elementwise program, or None where it only arranges elements."""
    if spec.merge not in MEANING:
        return None
    size = spec.h_out
    b = ProgramBuilder({"y_fwd": size, "y_bwd": size})
    fwd, bwd = b.scalar("y_fwd"), b.scalar("y_bwd")
    rhs = {"sum": fwd + bwd, "ave": (fwd + bwd) / 2, "mul": fwd * bwd}[spec.merge]
    b.elementwise("y", rhs, size, MEANING[spec.merge])
    return b.build(states=(), output="y")
