"""The default config, shipped inside the package so an installed ``v7`` runs from any directory.

``config/strategy_config.json`` in the repository is a link to this file: one source of truth.
"""
