"""Bridges from debatelab to other frameworks (each an optional extra).

- :mod:`debate.integrations.inspect_ai`: any debatelab protocol as an inspect_ai solver
  (``pip install 'debatelab[inspect]'``).
"""
