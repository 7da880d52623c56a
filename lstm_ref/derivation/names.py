"""How each program name is written in the printed derivations: text, unicode, LaTeX.

The programs name quantities for code (`c_prev`, `a[f]`, `W_h[f]`); the printed
derivations use the lecture's notation (C_{t-1}, a^f_t, W^h_f).
"""

from __future__ import annotations

import re

# The notations the derivations print in (`lstm-ref derive --format`).
OUTPUT_FORMATS = ("text", "unicode", "latex", "markdown")

SUPERSCRIPT = {
    "i": "ⁱ",
    "f": "ᶠ",
    "g": "ᵍ",
    "o": "ᵒ",
    "r": "ʳ",
    "z": "ᶻ",
    "n": "ⁿ",
    "x": "ˣ",
    "h": "ʰ",
    "y": "ʸ",
}

# name -> (text, unicode, latex)
QUANTITIES = {
    "x": ("x_t", "xₜ", "x_t"),
    "h_prev": ("h_{t-1}", "hₜ₋₁", "h_{t-1}"),
    "c_prev": ("C_{t-1}", "Cₜ₋₁", "C_{t-1}"),
    "i": ("i_t", "iₜ", "i_t"),
    "f": ("f_t", "fₜ", "f_t"),
    "g": ("C~_t", "C̃ₜ", r"\tilde{C}_t"),
    "c": ("C_t", "Cₜ", "C_t"),
    "o": ("o_t", "oₜ", "o_t"),
    "m": ("m_t", "mₜ", "m_t"),
    "h": ("h_t", "hₜ", "h_t"),
    "r": ("r_t", "rₜ", "r_t"),
    "z": ("z_t", "zₜ", "z_t"),
    "n": ("n_t", "nₜ", "n_t"),
    "rh": ("(r*h)_{t-1}", "(r⊙h)ₜ₋₁", r"(r \odot h)_{t-1}"),
    "a": ("a_t", "aₜ", "a_t"),
    "y_fwd": ("h->_t", "h⃗ₜ", r"\overrightarrow{h}_t"),
    "y_bwd": ("h<-_t", "h⃖ₜ", r"\overleftarrow{h}_t"),
    "y": ("y_t", "yₜ", "y_t"),
    "a_y": ("a^y_t", "aʸₜ", "a^{y}_t"),
    "y_out": ("yhat_t", "ŷₜ", r"\hat{y}_t"),
    "W_x": ("W_x", "Wₓ", "W_x"),
    "W_h": ("W_h", "Wₕ", "W_h"),
    "b_x": ("b^x", "bˣ", "b^{x}"),
    "b_h": ("b^h", "bʰ", "b^{h}"),
    "W_hr": ("W_hr", "Wₕᵣ", "W_{hr}"),
    "W_y": ("W_y", "W_y", "W_y"),
    "b_y": ("b_y", "b_y", "b_y"),
}

_GATED = re.compile(r"^(a|a_x|a_h|W_x|W_h|b_x|b_h|p)\[(\w)\]$")


def display(name: str, fmt: str) -> str:
    """The printed form of a program name.

    >>> display("a[f]", "latex"), display("W_h[o]", "text"), display("c_prev", "unicode")
    ('a^{f}_t', 'W^h_o', 'Cₜ₋₁')
    """
    column = {"text": 0, "unicode": 1, "latex": 2, "markdown": 2}[fmt]
    if name in QUANTITIES:
        return QUANTITIES[name][column]
    match = _GATED.match(name)
    if not match:
        raise KeyError(f"no printed form for {name!r}")
    kind, gate = match.groups()
    if kind == "a":
        return (f"a^{gate}_t", f"a{SUPERSCRIPT[gate]}ₜ", f"a^{{{gate}}}_t")[column]
    if kind in ("a_x", "a_h"):
        side = kind[-1]
        return (
            f"a^{side}{gate}_t",
            f"a{SUPERSCRIPT[side]}{SUPERSCRIPT[gate]}ₜ",
            f"a^{{{side}{gate}}}_t",
        )[column]
    if kind == "p":
        return (f"p_{gate}", f"p[{gate}]", f"p_{{{gate}}}")[column]
    letter, side = kind.split("_")
    return (
        f"{letter}^{side}_{gate}",
        f"{letter}{SUPERSCRIPT[side]}[{gate}]",
        f"{letter}^{{{side}}}_{{{gate}}}",
    )[column]
