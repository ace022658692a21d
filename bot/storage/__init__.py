"""Durable storage: SQLite by default, PostgreSQL at scale, personal data encrypted.

Start-up: ``await commands.upgrade(settings)`` then ``store = await Store.open(settings)``.
See ``store.py`` for the per-update API and README.md for the layout.
"""

from bot.storage.errors import (
    ConcurrentTurnError,
    DatabaseConfigError,
    DatabaseUnavailableError,
    DecryptionError,
    InvalidKeyError,
    MissingKeyError,
    ReferralNotFoundError,
    SchemaNotReadyError,
    StaleStatusError,
    StatusTransitionError,
    StorageError,
    WrongKeyError,
)
from bot.storage.store import Store
from bot.storage.turns import Turn
from bot.storage.views import (
    AnswerView,
    ContactView,
    Erasure,
    FunnelRow,
    OutboxItem,
    OutcomeView,
    ReferralDetails,
    StatusChange,
)

__all__ = [
    "AnswerView",
    "ConcurrentTurnError",
    "ContactView",
    "DatabaseConfigError",
    "DatabaseUnavailableError",
    "DecryptionError",
    "Erasure",
    "FunnelRow",
    "InvalidKeyError",
    "MissingKeyError",
    "OutboxItem",
    "OutcomeView",
    "ReferralDetails",
    "ReferralNotFoundError",
    "SchemaNotReadyError",
    "StaleStatusError",
    "StatusChange",
    "StatusTransitionError",
    "StorageError",
    "Store",
    "Turn",
    "WrongKeyError",
]
