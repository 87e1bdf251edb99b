"""Building blocks of the Explore controls: ids, labelled controls, sliders, input boxes.

Every control's id is ``explore-<name>`` (:func:`control_id`), ``<name>`` being
its key in :data:`tdacnn.app.controls.CONTROLS` (and in the URL); its initial
value is :data:`tdacnn.app.controls.DEFAULTS` ``[name]``.
"""

from __future__ import annotations

from dash import dcc, html

from tdacnn.app.controls import DEFAULTS

__all__ = ["control_id", "label", "slider", "number_input", "text_input"]


def control_id(name: str) -> str:
    """Component id of a control (``"explore-k"``)."""
    return f"explore-{name}"


def label(text: str, *children, title: str = "", echo: str | None = None) -> html.Div:
    """A control with its label; ``echo``: show the control's current value after the label."""
    head = [text] if echo is None else [text, ": ", html.B(id=f"{control_id(echo)}-value")]
    return html.Div([html.Label(head, title=title, className="ctl-label"), *children], className="ctl")


def slider(name: str, lo: float, hi: float, step: float) -> dcc.Slider:
    # the value is echoed in the label: Dash 4's built-in input box does not fit a narrow column
    return dcc.Slider(id=control_id(name), min=lo, max=hi, step=step, value=DEFAULTS[name], marks=None,
                      allow_direct_input=False, updatemode="mouseup")


def number_input(name: str, step: float | str = "any", minimum: float | None = None,
                 placeholder: str = "") -> dcc.Input:
    """A number box that reports on Enter or blur (``debounce``); bad values are explained by the parser."""
    return dcc.Input(id=control_id(name), type="number", value=DEFAULTS[name], step=step, min=minimum,
                     debounce=True, placeholder=placeholder, className="ctl-number")


def text_input(name: str, placeholder: str = "") -> dcc.Input:
    """A text box (for values that may be words, e.g. ``all``), reported on Enter or blur."""
    return dcc.Input(id=control_id(name), type="text", value=DEFAULTS[name], debounce=True,
                     placeholder=placeholder, className="ctl-number")
