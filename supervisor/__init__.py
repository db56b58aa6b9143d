"""Supervision trees with OTP's semantics, the daemon runner and the command line."""

__all__: list[str] = []
