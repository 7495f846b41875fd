"""Every public method of a Reflex state is an event any client can call: each must be meant as one."""

from __future__ import annotations

import inspect

import reflex as rx

import pkcrm_app.pkcrm_app  # noqa: F401  (registers every state of the app)


def test_every_public_state_method_is_a_declared_event() -> None:
    undeclared = []
    pending = list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        if not cls.__module__.startswith("pkcrm_app"):
            continue
        for name, handler in cls.event_handlers.items():
            if name == "setvar":  # Reflex's own; the websocket guard refuses it for clients
                continue
            decorators = inspect.getsource(handler.fn).split("def ", 1)[0]
            if "@rx.event" not in decorators:
                undeclared.append(f"{cls.__name__}.{name}")
    assert not undeclared, f"public methods that are not declared events (make helpers _private): {undeclared}"
