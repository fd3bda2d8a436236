"""Money: API keys, wallets (balance and held) and the append-only ledger."""
