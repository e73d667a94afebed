"""Language names: one canonical name per language, whatever spelling a user or a dataset gives it.

Every door that takes a language (records, flags, the servers) reads it through :func:`canonical_language`,
so ``"Python"``, ``"py"`` and ``"python3"`` are one language and ``"cobol"`` is refused by name, never run.
"""

from __future__ import annotations

from codescaler.records.errors import RecordError

# Spellings -> the canonical name. The canonical names are the tree-sitter grammars' (and Python).
_ALIASES = {
    "python": ("py", "python3"),
    "cpp": ("c++", "cc", "cxx"),
    "c": (),
    "java": (),
    "javascript": ("js", "nodejs", "node"),
    "typescript": ("ts",),
    "go": ("golang",),
    "rust": ("rs",),
    "csharp": ("c#", "cs"),
    "php": (),
    "ruby": ("rb",),
    "bash": ("sh", "shell"),
    "scala": (),
    "kotlin": ("kt",),
    "swift": (),
    "lua": (),
}
_CANONICAL = {spelling: name for name, spellings in _ALIASES.items() for spelling in (name, *spellings)}

LANGUAGES = tuple(_ALIASES)  # every language whose syntax codescaler checks
RUNNABLE = ("python", "cpp", "java", "javascript", "go", "rust")  # the languages the sandbox runs


class UnknownLanguage(RecordError):
    """A language name codescaler does not know, or cannot do the asked thing in."""


def canonical_language(name: object, among: tuple[str, ...] = LANGUAGES) -> str:
    """The canonical name of ``name`` (any case, any listed spelling), or :class:`UnknownLanguage` naming it
    and the languages in ``among``."""
    canonical = _CANONICAL.get(name.strip().lower()) if isinstance(name, str) else None
    if canonical is None or canonical not in among:
        raise UnknownLanguage(f"unknown language {name!r}; known: {', '.join(among)}")
    return canonical
