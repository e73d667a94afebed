"""Adapters from RL frameworks to codescaler's reward: TRL (``trl``), verl (``verl``), and an HTTP client (``client``).

They import the library; the library never imports them.
"""
