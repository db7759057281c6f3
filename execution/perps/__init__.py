"""Perpetual-futures arithmetic: funding payments, margin brackets, liquidation prices."""
