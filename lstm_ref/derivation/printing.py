"""Print a spec's equations, their local derivatives and the BPTT recurrences.

Formats: "text" (ASCII), "unicode" (one line each, with sigma, subscripts and the
delta sign), "latex", and "markdown" (LaTeX math that renders on GitHub).
Everything printed is read from the programs (:mod:`lstm_ref.equations`), the
derived partials and the adjoint terms (:mod:`lstm_ref.derivation`).
"""

from __future__ import annotations

from functools import partial

import sympy as sp

from lstm_ref.derivation.bptt import Adjoint, Term, adjoints
from lstm_ref.derivation.names import OUTPUT_FORMATS, display
from lstm_ref.derivation.partials import partials
from lstm_ref.equations import merge_program, output_program, step_program
from lstm_ref.equations.program import Equation, Program
from lstm_ref.spec import Spec

TITLES = {"lstm": "LSTM", "gru": "GRU", "rnn": "Elman RNN"}


class Printer:
    """Renders names, expressions and equations in one format."""

    def __init__(self, fmt: str) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"`format` must be one of {', '.join(OUTPUT_FORMATS)}; got {fmt!r}")
        self.fmt = fmt
        self.math = fmt in ("latex", "markdown")

    def name(self, name: str) -> str:
        return display(name, self.fmt)

    def delta(self, name: str) -> str:
        shown = self.name(name)
        return {"text": f"d{shown}", "unicode": f"δ{shown}"}.get(self.fmt, rf"\delta {shown}")

    def expr(self, expr: sp.Expr, deltas: dict[str, str] | None = None) -> str:
        deltas = deltas or {}
        symbols = {s: deltas.get(s.name) or self.name(s.name) for s in expr.free_symbols}
        if self.math:
            return sp.latex(expr, symbol_names=symbols)
        text = sp.sstr(expr.subs({s: sp.Symbol(v) for s, v in symbols.items()}, simultaneous=True))
        if self.fmt == "unicode":
            for old, new in (("**2", "²"), ("*", "·"), ("sigmoid", "σ")):
                text = text.replace(old, new)
        return text

    def affine(self, eq: Equation) -> str:
        products, biases = eq.affine_terms()
        order = {name: k for k, name in enumerate(("W_x", "W_h", "W_hr", "W_y"))}
        products.sort(key=lambda p: order.get(p[0].split("[")[0], 9))
        biases.sort(key=lambda b: (not b.startswith("b_x"), b))
        terms = [f"{self.name(w)} {self.name(v)}" for w, v in products]
        return " + ".join(terms + [self.name(b) for b in biases])

    def equation(self, eq: Equation) -> str:
        rhs = self.affine(eq) if eq.is_affine else self.expr(eq.rhs)
        return f"{self.name(eq.target)} = {rhs}"

    def transpose(self, weight: str) -> str:
        shown = self.name(weight)
        return {"text": f"{shown}^T", "unicode": f"{shown}ᵀ"}.get(self.fmt, rf"({shown})^\top")

    def partial_symbol(self, target: str, operand: str) -> str:
        t, o = self.name(target), self.name(operand)
        if self.math:
            return rf"\frac{{\partial {t}}}{{\partial {o}}}"
        return f"d{t}/d{o}" if self.fmt == "text" else f"∂{t}/∂{o}"

    def block(self, line: str, note: str = "") -> str:
        """One displayed line: math in $$ for markdown, indented otherwise."""
        if self.fmt == "markdown":
            return f"$$\n{line}\n$$" + (f"\n{note}" if note else "")
        if self.fmt == "latex":
            return rf"\[ {line} \]" + (f"  % {note}" if note else "")
        return f"    {line}" + (f"    [{note}]" if note else "")

    def heading(self, text: str, level: int = 2) -> str:
        if self.fmt == "markdown":
            return "#" * level + " " + text
        if self.fmt == "latex":
            return ("\\section*{" if level <= 2 else "\\subsection*{") + text + "}"
        return text + "\n" + ("=" if level <= 2 else "-") * len(text)

    def sum_t(self, body: str) -> str:
        if self.math:
            return rf"\sum_t {body}"
        return f"sum_t {body}" if self.fmt == "text" else f"Σₜ {body}"


def forward_section(program: Program, p: Printer) -> list[str]:
    lines = []
    for eq in program.equations:
        if p.fmt == "markdown":
            lines.append(f"- {eq.meaning}:\n\n" + p.block(p.equation(eq)))
        elif p.fmt == "latex":
            lines.append(p.block(p.equation(eq), eq.meaning))
        else:
            lines.append(f"  {eq.meaning}:\n" + p.block(p.equation(eq)))
    return lines


def partials_section(program: Program, p: Printer) -> list[str]:
    lines = []
    for eq in program.equations:
        if eq.is_affine:
            continue
        for d in partials(eq):
            proof = (
                "proved symbolically"
                if d.proof == "symbolic"
                else f"checked {d.proof.replace('numeric', 'numerically')}"
            )
            lines.append(
                p.block(f"{p.partial_symbol(d.target, d.operand)} = {p.expr(d.presented)}", proof)
            )
    return lines


def _term(term: Term, p: Printer) -> str:
    if term.weight is not None:
        return f"{p.transpose(term.weight)} {p.delta(term.target)}"
    if term.vector is not None:
        vector = p.name(term.vector)
        shown = f"{vector}^\\top" if p.math else f"{vector}^T" if p.fmt == "text" else f"{vector}ᵀ"
        return f"{p.delta(term.target)} {shown}"
    if term.partial is None:
        return p.delta(term.target)
    key = "__delta__"
    expr = term.partial * sp.Symbol(key, real=True)
    return p.expr(expr, {key: p.delta(term.target)})


def bptt_section(program: Program, p: Printer, output_label: str) -> list[str]:
    lines = []
    for adjoint in adjoints(program):
        parts = []
        if adjoint.from_loss:
            parts.append(output_label)
        if adjoint.from_next_step:
            parts.append(_from_next(adjoint, p))
        parts += [_term(t, p) for t in adjoint.terms]
        if adjoint.is_parameter:
            lhs = (
                rf"\frac{{\partial L}}{{\partial {p.name(adjoint.name)}}}"
                if p.math
                else f"dL/d{p.name(adjoint.name)}"
                if p.fmt == "text"
                else f"∂L/∂{p.name(adjoint.name)}"
            )
            body = " + ".join(parts)
            lines.append(p.block(f"{lhs} = {p.sum_t(body if len(parts) == 1 else f'({body})')}"))
        else:
            lines.append(p.block(f"{p.delta(adjoint.name)} = {' + '.join(parts) or '0'}"))
    return lines


def _from_next(adjoint: Adjoint, p: Printer) -> str:
    sent = p.delta(adjoint.from_next_step or "")
    return rf"\left.{sent}\right|_{{t+1}}" if p.math else f"[{sent}]_(t+1)"


NOTES = {
    "elementwise": "Products of vectors are elementwise; W v is a matrix-vector product.",
    "bptt": (
        "The adjoint of each quantity v of step t is dL/dv; it collects one term for "
        "each use of v in step t, in the reverse order of the forward equations. "
        "[.]_(t+1) is what step t+1 sends back through its {states}; it is zero after "
        "a sequence's last valid step, where {finals} enter instead; a sequence's "
        "padded steps pass it through unchanged. The adjoints of {states} at the "
        "first step are the gradients of {initials}; the adjoint of x_t is the "
        "gradient of the input (or, in a stack, what the layer below receives for "
        "its output). Parameter gradients sum over the valid steps and the batch."
    ),
    "reverse": (
        "The backward-running direction applies the same step, with its own parameters "
        "(prefix layer{l}_reverse), from each sequence's last valid step down to t = 1; "
        "there h_{t-1} is the state of the step at t+1."
    ),
}


def document(spec: Spec, fmt: str = "text", gradients: bool = False) -> str:
    """The derivation of a spec: forward equations, then (with `gradients`) the local
    derivatives and the BPTT recurrences, for the step, the merge and the output layer.

    >>> print(document(Spec("rnn", 3, 2)).splitlines()[0])
    Elman RNN
    """
    p = Printer(fmt)
    step = step_program(spec, 0)
    title = TITLES[spec.cell] + (f" ({', '.join(spec.options())})" if spec.options() else "")
    out: list[str] = [p.heading(title, 1), NOTES["elementwise"]]
    sections: list[tuple[str, Program, str]] = [("One step", step, "dL/dh_t")]
    merge = merge_program(spec)
    if spec.num_directions == 2:
        out.append(NOTES["reverse"])
        if merge is not None:
            sections.append((f"Bidirectional merge ({spec.merge})", merge, "dL/dy_t"))
        else:
            how = "concatenated" if spec.merge == "concat" else "kept apart"
            out.append(
                f"The two directions' outputs are {how} (merge {spec.merge!r}); the "
                "adjoint of y_t splits into theirs the same way."
            )
    output = output_program(spec)
    if output is not None:
        sections.append(("Output layer", output, "dL/dyhat_t"))
    for title, program, label in sections:
        out.append(p.heading(title))
        out += forward_section(program, p)
        if gradients:
            out.append(p.heading(f"{title}: local derivatives", 3))
            out += partials_section(program, p)
            out.append(p.heading(f"{title}: backpropagation through time", 3))
            out += bptt_section(program, p, _loss_label(label, p))
    if gradients:
        lstm = spec.cell == "lstm"
        out.insert(
            2,
            NOTES["bptt"].format(
                states="h_{t-1} and C_{t-1}" if lstm else "h_{t-1}",
                finals="dL/dh_n and dL/dC_n" if lstm else "dL/dh_n",
                initials="h_0 and C_0" if lstm else "h_0",
            ),
        )
    return "\n\n".join(out) + "\n"


def merge_document(spec: Spec, fmt: str, gradients: bool) -> str:
    """Only the bidirectional merge section of `spec` (sum, ave or mul)."""
    program = merge_program(spec)
    if program is None:
        raise ValueError(f"merge {spec.merge!r} only arranges elements: it has no equations")
    p = Printer(fmt)
    title = f"Bidirectional merge ({spec.merge})"
    out = [p.heading(title)] + forward_section(program, p)
    if gradients:
        out.append(p.heading(f"{title}: local derivatives", 3))
        out += partials_section(program, p)
        out.append(p.heading(f"{title}: backpropagation through time", 3))
        out += bptt_section(program, p, _loss_label("dL/dy_t", p))
    return "\n\n".join(out) + "\n"


GENERATED = (
    "<!-- Generated by `lstm-ref derive --write derivations/` from the SymPy equations "
    "in lstm_ref/equations/; do not edit. A test fails when this file is out of date. -->"
)


def derivation_files() -> dict[str, str]:
    """The committed derivations/*.md: LSTM, BiLSTM (every merge), GRU (both resets), RNN."""
    sized = partial(Spec, input_size=3, hidden_size=4)
    md = "markdown"
    bilstm = sized("lstm", direction="bidirectional")
    files = {
        "lstm.md": document(sized("lstm"), md, True),
        "bilstm.md": document(bilstm, md, True)
        + "\n".join(
            "\n" + merge_document(bilstm.replace(merge=m), md, True) for m in ("sum", "ave", "mul")
        ),
        "gru.md": document(sized("gru"), md, True)
        + "\n"
        + document(sized("gru", gru_reset="before"), md, True),
        "rnn.md": document(sized("rnn", output_size=2), md, True),
    }
    return {name: f"{GENERATED}\n\n{text}" for name, text in files.items()}


def _loss_label(label: str, p: Printer) -> str:
    quantity = label.split("/d")[1]
    name = {"h_t": "h", "y_t": "y", "yhat_t": "y_out"}[quantity]
    if p.math:
        return rf"\frac{{\partial L}}{{\partial {p.name(name)}}}"
    return f"dL/d{p.name(name)}" if p.fmt == "text" else f"∂L/∂{p.name(name)}"
