"""The API tokens of `gatekeeper serve`: add, list, find by hash, revoke, note their use.

Mixed into HistoryStore. Only SHA-256 hashes of the secrets are stored; rows never leave the
store.
"""

from __future__ import annotations

import hmac
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gatekeeper import model
from gatekeeper.store.tables import API_TOKENS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_COLUMNS = (
    API_TOKENS.c.name,
    API_TOKENS.c.scope,
    API_TOKENS.c.created_at,
    API_TOKENS.c.revoked_at,
    API_TOKENS.c.last_used_at,
)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _naive(value: datetime) -> datetime:
    """Times are stored as UTC without a zone (like every other time in the history)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _token(row: Any) -> model.ApiToken:
    created = _utc(row.created_at)
    assert created is not None
    return model.ApiToken(
        name=row.name,
        scope=row.scope,
        created_at=created,
        revoked_at=_utc(row.revoked_at),
        last_used_at=_utc(row.last_used_at),
    )


class TokenStore:
    """API tokens (HistoryStore provides ``_transaction``)."""

    if TYPE_CHECKING:

        def _transaction(
            self, doing: str, *, write: bool = False
        ) -> AbstractContextManager[Connection]: ...

    def add_token(
        self, name: str, scope: str, token_hash: str, created_at: datetime
    ) -> model.ApiToken | None:
        """Store a new token; None when the name is taken (also by a revoked token)."""
        values = {
            "name": name,
            "scope": scope,
            "token_hash": token_hash,
            "created_at": _naive(created_at),
        }
        with self._transaction(f"adding the API token {name!r}", write=True) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            # ON CONFLICT DO NOTHING: two admins creating the same name at once get one token
            # and one "taken", never a constraint error.
            conn.execute(dialect.insert(API_TOKENS).values(**values).on_conflict_do_nothing())
            row = conn.execute(
                select(*_COLUMNS, API_TOKENS.c.token_hash).where(API_TOKENS.c.name == name)
            ).first()
        # the row under the name is ours only if it holds our hash
        if row is None or row.token_hash != token_hash:
            return None
        return _token(row)

    def tokens(self) -> list[model.ApiToken]:
        """Every token, revoked ones too, by name."""
        with self._transaction("listing the API tokens") as conn:
            rows = conn.execute(select(*_COLUMNS).order_by(API_TOKENS.c.name)).all()
        return [_token(r) for r in rows]

    def token(self, name: str) -> model.ApiToken | None:
        with self._transaction(f"reading the API token {name!r}") as conn:
            row = conn.execute(select(*_COLUMNS).where(API_TOKENS.c.name == name)).first()
        return None if row is None else _token(row)

    def find_token(self, token_hash: str) -> model.ApiToken | None:
        """The token whose secret hashes to ``token_hash`` (revoked or not), else None.

        The index finds the row; the hashes are then compared in constant time. (The lookup's
        timing can only tell how a hash of the caller's guess compares with stored hashes,
        which does not help anyone find a secret whose hash that is.)
        """
        with self._transaction("checking an API token") as conn:
            row = conn.execute(
                select(*_COLUMNS, API_TOKENS.c.token_hash).where(
                    API_TOKENS.c.token_hash == token_hash
                )
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, token_hash):
            return None
        return _token(row)

    def revoke_token(self, name: str, at: datetime) -> model.ApiToken | None:
        """Mark a token revoked (the first revocation's time is kept); None if no such name."""
        with self._transaction(f"revoking the API token {name!r}", write=True) as conn:
            conn.execute(
                update(API_TOKENS)
                .where(API_TOKENS.c.name == name, API_TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=_naive(at))
            )
            row = conn.execute(select(*_COLUMNS).where(API_TOKENS.c.name == name)).first()
        return None if row is None else _token(row)

    def touch_token(self, name: str, at: datetime, *, older_than: datetime) -> None:
        """Set the token's last use to ``at`` unless it was already used after ``older_than``:
        a write at most once a minute per token, not one per request."""
        with self._transaction(f"noting the use of the API token {name!r}", write=True) as conn:
            conn.execute(
                update(API_TOKENS)
                .where(
                    API_TOKENS.c.name == name,
                    or_(
                        API_TOKENS.c.last_used_at.is_(None),
                        API_TOKENS.c.last_used_at < _naive(older_than),
                    ),
                )
                .values(last_used_at=_naive(at))
            )
