"""Building blocks of the Explore controls: ids, labelled controls, sliders, input boxes.

Every control's id is ``explore-<name>`` (:func:`control_id`), ``<name>`` being
its key in :data:`tdacnn.app.controls.CONTROLS` (and in the URL); its initial
value is :data:`tdacnn.app.controls.DEFAULTS` ``[name]``.

A control whose value can come from the data (``auto=True`` in :func:`label`)
is wrapped in ``explore-<name>-ctl``, whose class is ``is-auto`` or
``is-explicit`` (set by the page): the label then says "auto", or offers an
"auto" button (``{"type": AUTO_RESET, "name": name}``) that gives the choice
back to the data.
"""

from __future__ import annotations

from dash import dcc, html

from tdacnn.app.controls import DEFAULTS

__all__ = ["control_id", "label", "slider", "number_input", "text_input", "AUTO_RESET", "ctl_id"]

#: Pattern-matching id type of the per-control "back to automatic" buttons.
AUTO_RESET = "explore-auto-reset"


def control_id(name: str) -> str:
    """Component id of a control (``"explore-k"``)."""
    return f"explore-{name}"


def ctl_id(name: str) -> str:
    """Id of the wrapper of an automatic control (its class says whether the value is automatic)."""
    return f"{control_id(name)}-ctl"


def label(text: str, *children, title: str = "", echo: str | None = None, auto: str | None = None) -> html.Div:
    """A control with its label.

    Parameters
    ----------
    text : str
    *children : Dash components
        The control.
    title : str
        Tooltip of the label.
    echo : str, optional
        Control name: show its current value after the label.
    auto : str, optional
        Control name whose value may come from the data: the label gets an "auto"
        tag (shown while automatic) and an "auto" button (shown once the user chose a value).
    """
    head = [text] if echo is None else [text, ": ", html.B(id=f"{control_id(echo)}-value")]
    if auto is None:
        return html.Div([html.Label(head, title=title, className="ctl-label"), *children], className="ctl")
    head += [html.Span("auto", className="auto-tag", title="computed from the data of this layer; "
                                                           "set a value to fix it"),
             html.Button("auto", id={"type": AUTO_RESET, "name": auto}, className="auto-reset", n_clicks=0,
                         title="back to the value computed from the data")]
    return html.Div([html.Label(head, title=title, className="ctl-label"), *children], id=ctl_id(auto),
                    className="ctl is-auto")


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
