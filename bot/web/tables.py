"""The console's tables (``bot/storage/models.py``, created by migration 0005)."""

from __future__ import annotations

from bot.storage.models import WEB_ROLES as ROLES
from bot.storage.models import web_sessions as sessions
from bot.storage.models import web_users as users

__all__ = ["ROLES", "sessions", "users"]
