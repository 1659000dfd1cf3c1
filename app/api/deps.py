"""Per-app objects the routers need, kept on ``app.state`` so tests can build apps with their own settings."""
from __future__ import annotations

from fastapi import Request

from app.inputs.store import InputStore
from app.settings import Settings


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def store_of(request: Request) -> InputStore:
    return request.app.state.store
