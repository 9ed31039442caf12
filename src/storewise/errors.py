"""The one exception tree of storewise.

Every error a user can cause is one of these, carrying a message that names what
and where; front-ends map them to exit codes (CLI) and one JSON error shape (API)::

    StorewiseError                 base; exit code 1
    ├── InputError                 bad file, row, request, argument; exit code 2
    │   └── SchemaError            a required column is missing; exit code 2
    ├── NotFound                   unknown item, customer, preset, bundle; exit code 3
    ├── NotFitted                  a model or the engine used before training; exit code 4
    ├── ConsentError               an action the customer's consent forbids; exit code 5
    ├── ArtifactError              a model bundle that is missing, corrupt or tampered; exit code 6
    ├── ConfigError                settings missing or invalid (e.g. no encryption key); exit code 7
    ├── StoreError                 the database refused or failed; exit code 8
    └── AuthError                  missing or wrong API key / scope; exit code 9
"""

from __future__ import annotations

from typing import Any


class StorewiseError(Exception):
    """Base class: a user-facing error with a stable code and optional details."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InputError(StorewiseError):
    """Bad input: a file, row, request or argument that cannot be used as given."""

    code = "invalid_input"
    exit_code = 2


class SchemaError(InputError):
    """A file lacks a required column or has an unusable layout."""

    code = "invalid_schema"


class NotFound(StorewiseError):
    """A named thing (item, customer, preset, bundle, segment) does not exist."""

    code = "not_found"
    exit_code = 3


class NotFitted(StorewiseError):
    """A model or the engine was used before it was trained or loaded."""

    code = "not_fitted"
    exit_code = 4


class ConsentError(StorewiseError):
    """The customer's consent does not allow this use of their data."""

    code = "consent_required"
    exit_code = 5


class ArtifactError(StorewiseError):
    """A model bundle is missing, unreadable, corrupt or fails its checksum."""

    code = "bad_artifact"
    exit_code = 6


class ConfigError(StorewiseError):
    """Settings are missing or invalid, e.g. personal fields without an encryption key."""

    code = "config_error"
    exit_code = 7


class StoreError(StorewiseError):
    """The database failed or refused an operation."""

    code = "store_error"
    exit_code = 8


class AuthError(StorewiseError):
    """Missing or invalid credentials, or a key without the required scope."""

    code = "unauthorized"
    exit_code = 9
