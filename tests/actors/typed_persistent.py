"""Checked by the mypy gate, not run by pytest: the restored state's type is seen by mypy.

See docs/persistence.md ("Typed").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_type

from actors import Actor, Caller, CallResult, Persistent, Reply


@dataclass
class Account:
    balance: int = 0


class Bank(Actor, Persistent[Account]):
    state_version = 1

    async def init(self, state: Account | None) -> None:
        assert_type(state, Account | None)
        self.state = state or Account()

    def snapshot(self) -> Account:
        return self.state

    @classmethod
    def restore(cls, data: Any, version: int) -> Account:
        return Account(**data)

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        assert_type(self.state, Account)
        assert_type(self.snapshot(), Account)
        assert_type(Bank.restore({"balance": 1}, 1), Account)
        self.state.balance += 1
        return Reply(self.state.balance)
