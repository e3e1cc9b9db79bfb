"""Accounts: password hashing, access tokens, login throttling."""
