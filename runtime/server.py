"""Server skeleton base and runners. STUB: signatures are the contract with generated code."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar

from rpcgen.runtime.spec import Method

__all__ = ["Server"]


class Server(abc.ABC):  # noqa: B024 - generated subclasses add the abstract methods
    """Base of generated ``<Name>Server`` skeletons; subclass it and implement every method."""

    service_name: ClassVar[str]
    methods: ClassVar[Mapping[str, Method[object]]]
