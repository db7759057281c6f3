"""v7 engine: screener -> risk -> router -> positions -> ledger/registry -> exit scanner."""
