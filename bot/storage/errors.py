"""Errors the storage layer raises. Their messages are meant for the operator's eyes and
never contain personal data; the command line prints them and exits non-zero."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage error."""


class DatabaseConfigError(StorageError):
    """DATABASE_URL is malformed or names an unsupported database."""


class DatabaseUnavailableError(StorageError):
    """The database named by DATABASE_URL cannot be reached, opened or is locked."""


class SchemaNotReadyError(StorageError):
    """The database has not been migrated to the schema this code expects."""


class MissingKeyError(StorageError):
    """DATA_ENCRYPTION_KEY is not set."""


class InvalidKeyError(StorageError):
    """DATA_ENCRYPTION_KEY is set but is not a Fernet key."""


class WrongKeyError(StorageError):
    """DATA_ENCRYPTION_KEY differs from the key this database was first used with."""


class DecryptionError(StorageError):
    """A stored value could not be decrypted."""


class ConcurrentTurnError(StorageError):
    """Another process changed the same conversation during a turn; nothing was written.

    Only raised on SQLite shared by several processes (PostgreSQL locks the conversation).
    The caller may process the update again.
    """


class ReferralNotFoundError(StorageError):
    """No referral has the given reference code."""


class StaleStatusError(StorageError):
    """A referral's status changed since the caller looked at it."""


class StatusTransitionError(StaleStatusError):
    """The workflow does not allow that status after the referral's current one."""
