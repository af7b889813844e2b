"""Versions and constraints as Masterminds/semver v3.4 reads them.

Argo CD Image Updater parses tags with ``semver.NewVersion`` and constraints with
``semver.NewConstraint`` from github.com/Masterminds/semver v3.4.0. Both are more
lenient than the SemVer 2.0 grammar (``v1``, ``1.2``, leading zeros in the
numbers), and the constraint language has its own wildcard, tilde and caret rules.
A team moving from Image Updater keeps its ``image-list`` constraints, so this
module re-implements those rules rather than borrowing python-semver's, which
would accept a different set of tags and rank ranges differently.

Pre-releases follow Masterminds v3.4: a pre-release version can only satisfy an
AND group of comparators when at least one comparator of that group carries a
pre-release itself (``>=1.0.0-0``, ``^2.0.0-rc``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ferry.errors import ConfigError

_UINT64_MAX = 2**64 - 1

# Masterminds' "loose" regexp, which NewVersion uses (CoerceNewVersion=true): the
# minor and patch numbers are optional and leading zeros are allowed.
_VERSION_RE = re.compile(
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?",
    re.ASCII,
)
_IDENTIFIER_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")


def _numeric_identifier(part: str) -> int | None:
    """The value of a numeric pre-release identifier; None for an alphanumeric one.

    Masterminds uses ``strconv.ParseUint``, so a run of digits beyond uint64
    compares as text. Mirroring that keeps the order identical on odd tags.
    """
    if part.isascii() and part.isdigit():
        value = int(part)
        if value <= _UINT64_MAX:
            return value
    return None


def _prerelease_key(prerelease: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a pre-release: numeric identifiers rank below alphanumeric ones."""
    key = []
    for part in prerelease.split("."):
        number = _numeric_identifier(part)
        key.append((0, number, "") if number is not None else (1, 0, part))
    return tuple(key)


def _check_identifiers(text: str, value: str, *, numeric_leading_zero: bool) -> None:
    for part in value.split("."):
        if not part or not set(part) <= _IDENTIFIER_CHARS:
            raise ValueError(f"invalid version '{text}': bad identifier '{part}'")
        if numeric_leading_zero and part.isdigit() and len(part) > 1 and part[0] == "0":
            raise ValueError(f"invalid version '{text}': numeric identifier '{part}' starts with 0")


@dataclass(frozen=True, slots=True, eq=False)
class Version:
    """A semantic version, parsed as leniently as Masterminds ``NewVersion``.

    Equality, hashing and ordering follow SemVer 2.0 precedence: build metadata
    is ignored, a pre-release ranks below its release, numeric identifiers
    compare as numbers and rank below alphanumeric ones.

    >>> Version.parse("v1.2")
    Version(major=1, minor=2, patch=0, prerelease='', build='')
    >>> str(Version.parse("v3-5a7147"))
    '3.0.0-5a7147'
    >>> Version.parse("1.0.0-rc.2") < Version.parse("1.0.0-rc.10") < Version.parse("1.0.0")
    True
    >>> Version.parse("1.0.0+a") == Version.parse("1.0.0+b")
    True
    >>> Version.try_parse("latest") is None
    True
    """

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""
    original: str = field(default="", repr=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``text``; raise :class:`ValueError` naming it when it is not a version."""
        match = _VERSION_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"invalid version '{text}'")
        numbers = [int(match.group(1)), 0, 0]
        for index, group in ((1, 2), (2, 3)):
            if match.group(group):
                numbers[index] = int(match.group(group)[1:])
        if any(n > _UINT64_MAX for n in numbers):
            raise ValueError(f"invalid version '{text}': number out of range")
        prerelease = match.group(5) or ""
        build = match.group(8) or ""
        if prerelease:
            _check_identifiers(text, prerelease, numeric_leading_zero=True)
        if build:
            _check_identifiers(text, build, numeric_leading_zero=False)
        return cls(numbers[0], numbers[1], numbers[2], prerelease, build, text)

    @classmethod
    def try_parse(cls, text: str) -> Version | None:
        """Like :meth:`parse`, but None for a tag that is not a version (Image Updater skips those)."""
        try:
            return cls.parse(text)
        except ValueError:
            return None

    def _key(self) -> tuple[int, int, int, tuple[int, tuple[tuple[int, int, str], ...]]]:
        # A release (1, ()) outranks every pre-release (0, ...) of the same numbers.
        pre = (1, ()) if not self.prerelease else (0, _prerelease_key(self.prerelease))
        return (self.major, self.minor, self.patch, pre)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as this version ranks below, level with or above ``other``."""
        mine, theirs = self._key(), other._key()
        return (mine > theirs) - (mine < theirs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text


# --- constraints -------------------------------------------------------------

# The version part of a comparator: like a version, but each number may be a wildcard.
_CV = (
    r"v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
# The empty alternative is deliberate: no operator means "=" (or tilde when dirty).
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_COMPARATOR_RE = re.compile(rf"\s*({_OPS})\s*({_CV})\s*", re.ASCII)
_HYPHEN_RANGE_RE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*", re.ASCII)
_FIND_COMPARATOR_RE = re.compile(rf"({_OPS})\s*({_CV})", re.ASCII)
_AND_GROUP_RE = re.compile(rf"(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*", re.ASCII)

_WILDCARDS = frozenset({"x", "X", "*"})


@dataclass(frozen=True, slots=True)
class _Comparator:
    """One operator and version; ``dirty`` flags record which parts were wildcards or missing."""

    operator: str
    version: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version, include_prerelease: bool) -> bool:
        if v.prerelease and not include_prerelease:
            return False
        return _CHECKS[self.operator](self, v)


def _not_equal(c: _Comparator, v: Version) -> bool:
    con = c.version
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.prerelease or con.prerelease:
                return _prerelease_key(v.prerelease) != _prerelease_key(con.prerelease)
            return False
    return v != con


def _greater_than(c: _Comparator, v: Version) -> bool:
    con = c.version
    if not c.dirty:
        return v > con
    if v.major != con.major:
        return v.major > con.major
    if c.minor_dirty:
        # ">11" means 12 or higher: 11.1.0 is not greater than "11".
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v > con


def _less_than(c: _Comparator, v: Version) -> bool:
    return v < c.version


def _greater_equal(c: _Comparator, v: Version) -> bool:
    return v >= c.version


def _less_equal(c: _Comparator, v: Version) -> bool:
    con = c.version
    if not c.dirty:
        return v <= con
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _tilde(c: _Comparator, v: Version) -> bool:
    con = c.version
    if v < con:
        return False
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True  # "~0.0.0" and "~*" accept everything
    if v.major != con.major:
        return False
    return v.minor == con.minor or c.minor_dirty


def _tilde_or_equal(c: _Comparator, v: Version) -> bool:
    return _tilde(c, v) if c.dirty else v == c.version


def _caret(c: _Comparator, v: Version) -> bool:
    con = c.version
    if v < con:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    # Below 1.0.0 the minor number is the compatibility line, and below 0.1.0 the patch.
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


_CHECKS: dict[str, Callable[[_Comparator, Version], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater_than,
    "<": _less_than,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def _parse_comparator(text: str, constraint: str) -> _Comparator:
    if not text:
        # An empty comparator is a wildcard, as Masterminds' parseConstraint reads it.
        return _Comparator("", Version(0, 0, 0), True, False, False)
    match = _COMPARATOR_RE.fullmatch(text)
    if match is None:
        raise ConfigError(f"invalid constraint '{constraint}': cannot read '{text.strip()}'")
    operator, whole, major, minor, patch, dashed_pre = match.group(1, 2, 3, 4, 5, 6)
    dashed_pre = dashed_pre or ""
    dirty = minor_dirty = patch_dirty = False
    # Masterminds keys its wildcard handling on the first wildcard or missing part and
    # replaces it and everything after it with zeros (keeping any pre-release).
    if major in _WILDCARDS:
        dirty, version_text = True, f"0.0.0{dashed_pre}"
    elif not minor or minor[1:] in _WILDCARDS:
        dirty = minor_dirty = True
        version_text = f"{major}.0.0{dashed_pre}"
    elif not patch or patch[1:] in _WILDCARDS:
        dirty = patch_dirty = True
        version_text = f"{major}{minor}.0{dashed_pre}"
    else:
        version_text = whole
    try:
        version = Version.parse(version_text)
    except ValueError as exc:
        raise ConfigError(f"invalid constraint '{constraint}': '{whole}' is not a version") from exc
    return _Comparator(operator, version, dirty, minor_dirty, patch_dirty)


def _rewrite_hyphen_ranges(text: str) -> str:
    """Turn ``1.2 - 1.4.5`` into ``>= 1.2, <= 1.4.5 `` as Masterminds' ``rewriteRange`` does.

    The match takes the whitespace around the range and the replacement ends in one
    space, so a comparator after the range (``1.0.0 - 2.0.0 <=2.0.0``) stays separate.

    >>> _rewrite_hyphen_ranges("1.0.0 - 2.0.0 <=2.0.0")
    '>= 1.0.0, <= 2.0.0 <=2.0.0'
    """
    for match in list(_HYPHEN_RANGE_RE.finditer(text)):
        text = text.replace(match.group(0), f">= {match.group(1)}, <= {match.group(11)} ", 1)
    return text


@dataclass(frozen=True, slots=True)
class Constraint:
    """A Masterminds constraint: OR (``||``) of AND groups (space or comma) of comparators.

    >>> c = Constraint.parse(">=1.2 <2")
    >>> [c.allows(Version.parse(t)) for t in ("1.2.0", "1.9.9", "2.0.0", "1.5.0-rc.1")]
    [True, True, False, False]
    >>> Constraint.parse("^2.0.0-rc").allows(Version.parse("2.0.0-rc.3"))
    True
    >>> Constraint.parse("1.2 - 1.4.5").allows(Version.parse("1.4.5"))
    True
    """

    text: str
    groups: tuple[tuple[_Comparator, ...], ...] = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse ``text``; raise :class:`ConfigError` naming it when the syntax is invalid."""
        rewritten = _rewrite_hyphen_ranges(text)
        groups = []
        for segment in rewritten.split("||"):
            if not _AND_GROUP_RE.fullmatch(segment):
                raise ConfigError(f"invalid constraint '{text}': cannot read '{segment.strip()}'")
            parts = [m.group(0) for m in _FIND_COMPARATOR_RE.finditer(segment)] or [segment]
            groups.append(tuple(_parse_comparator(part, text) for part in parts))
        return cls(text, tuple(groups))

    def allows(self, version: Version) -> bool:
        """True when ``version`` satisfies at least one AND group."""
        for group in self.groups:
            include_prerelease = any(c.version.prerelease for c in group)
            if all(c.check(version, include_prerelease) for c in group):
                return True
        return False

    def __str__(self) -> str:
        return self.text
