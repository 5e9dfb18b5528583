"""The search language: a query's text parsed into phrases, filters and a sort order.

`red circle +blue -square tag:beach -tag:work folder:~/Trips date:2024-06 after:2023-06-01
before:2025 type:png is:duplicate album:Summer sort:date`. No model and no database here:
the parsed `SearchQuery` says what to do; `filters.py` and `search.py` do it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# `key:value` words that are filters; any other `word:` stays part of the text.
FILTER_KEYS = ("tag", "folder", "date", "after", "before", "type", "is", "album", "sort")
SORTS = ("relevance", "date")
# type: words → the file extensions they stand for.
TYPE_EXTENSIONS = {
    "jpg": (".jpg", ".jpeg", ".jpe"), "jpeg": (".jpg", ".jpeg", ".jpe"),
    "png": (".png",), "gif": (".gif",), "webp": (".webp",), "bmp": (".bmp",),
    "tif": (".tif", ".tiff"), "tiff": (".tif", ".tiff"), "heic": (".heic", ".heif"),
    "heif": (".heic", ".heif"), "avif": (".avif",),
}

_FILTER_PATTERN = re.compile(
    r'(?:^|(?<=\s))(-?)(' + "|".join(FILTER_KEYS) + r'):(?:"([^"]*)"|(\S+))',
    re.IGNORECASE)
_DATE_PATTERN = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


class QueryError(ValueError):
    """A filter the search cannot read (`date:June`, `type:`, `sort:size`); the message
    says what is accepted."""


@dataclass(frozen=True)
class DateRange:
    """Photos whose date (EXIF date taken, else file mtime) is in [start, end): ISO days,
    either end open."""

    start: str | None
    end: str | None
    text: str  # as typed, for explanations

    def contains(self, day: str) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)


@dataclass
class SearchQuery:
    """What a query asks: text to rank by, NOT phrases, and filters on the candidates.

    `positive` phrases (the first and every `+phrase`) are added as vectors; `negative`
    phrases (`-phrase`) push the vector away and remove the photos that match them.
    """

    positive: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # every one required
    not_tags: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # every one required
    dates: list[DateRange] = field(default_factory=list)  # every one required
    types: list[str] = field(default_factory=list)  # any one of them
    duplicate: bool = False
    albums: list[str] = field(default_factory=list)
    sort: str = "relevance"

    @property
    def has_text(self) -> bool:
        return bool(self.positive or self.negative)

    @property
    def has_filters(self) -> bool:
        return bool(self.tags or self.not_tags or self.folders or self.dates or self.types
                    or self.duplicate or self.albums)

    def merged(self, other: SearchQuery) -> SearchQuery:
        """Both queries at once (an `album:` inside a query): every term of each applies."""
        return SearchQuery(
            self.positive + other.positive, self.negative + other.negative,
            self.tags + other.tags, self.not_tags + other.not_tags,
            self.folders + other.folders, self.dates + other.dates,
            self.types + other.types, self.duplicate or other.duplicate, [],
            self.sort if self.sort != "relevance" else other.sort)


def parse_query(text: str) -> SearchQuery:
    """`kids in the snow +sled -adults tag:winter tag:"new year" date:2024`: the first phrase
    and every `+phrase` pull the query towards them, every `-phrase` is a NOT, and the
    `key:value` words are filters. Raises `QueryError` for a filter it cannot read."""
    query = SearchQuery()
    for match in _FILTER_PATTERN.finditer(text):
        negated, key = match.group(1) == "-", match.group(2).lower()
        value = (match.group(3) if match.group(3) is not None else match.group(4)).strip()
        _add_filter(query, key, value, negated)
    rest = _FILTER_PATTERN.sub(" ", text)
    # Split before every + or - that starts a word; the sign belongs to the phrase after it.
    for part in re.split(r"(?:^|\s)(?=[+-]\S)", rest):
        phrase = part.strip()
        if not phrase:
            continue
        if phrase[0] in "+-":
            word = phrase[1:].strip()
            if word:
                (query.negative if phrase[0] == "-" else query.positive).append(word)
        else:
            query.positive.append(phrase)
    return query


def _add_filter(query: SearchQuery, key: str, value: str, negated: bool) -> None:
    if not value:
        raise QueryError(f"'{key}:' needs a value, e.g. {_EXAMPLES[key]}.")
    if negated and key != "tag":
        raise QueryError(f"'-{key}:' is not supported: only tags can be excluded (-tag:NAME).")
    if key == "tag":
        (query.not_tags if negated else query.tags).append(value)
    elif key == "folder":
        query.folders.append(value)
    elif key in ("date", "after", "before"):
        query.dates.append(date_range(key, value))
    elif key == "type":
        kind = value.lower().lstrip(".")
        if kind not in TYPE_EXTENSIONS:
            raise QueryError(f"'type:{value}' is not a known type; one of "
                             f"{', '.join(sorted(TYPE_EXTENSIONS))}.")
        query.types.append(kind)
    elif key == "is":
        if value.lower() not in ("duplicate", "dup", "duplicates"):
            raise QueryError(f"'is:{value}' is not known; 'is:duplicate' is.")
        query.duplicate = True
    elif key == "album":
        query.albums.append(value)
    elif key == "sort":
        if value.lower() not in SORTS:
            raise QueryError(f"'sort:{value}' is not known; sort:relevance or sort:date.")
        query.sort = value.lower()


_EXAMPLES = {
    "tag": "tag:beach", "folder": "folder:~/Pictures/2024", "date": "date:2024-06",
    "after": "after:2023-06-01", "before": "before:2024", "type": "type:png",
    "is": "is:duplicate", "album": "album:Summer", "sort": "sort:date",
}


def date_range(key: str, value: str) -> DateRange:
    """`date:2024` (that year), `date:2024-06`, `date:2024-06-01`; `after:` from that day
    on (inclusive, like Gmail's), `before:` up to it (exclusive); after:/before: of a year
    or month mean its first day."""
    match = _DATE_PATTERN.match(value)
    if not match:
        raise QueryError(f"'{key}:{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD.")
    year, month, day = int(match.group(1)), match.group(2), match.group(3)
    try:
        first = dt.date(year, int(month or 1), int(day or 1))
    except ValueError as exc:
        raise QueryError(f"'{key}:{value}' is not a date ({exc}).") from exc
    if day:
        after = first + dt.timedelta(days=1)
    elif month:
        after = dt.date(year + (first.month == 12), first.month % 12 + 1, 1)
    else:
        after = dt.date(year + 1, 1, 1)
    text = f"{key}:{value}"
    if key == "after":
        return DateRange(first.isoformat(), None, text)
    if key == "before":
        return DateRange(None, first.isoformat(), text)
    return DateRange(first.isoformat(), after.isoformat(), text)


def format_tag_filter(tag: str) -> str:
    """The query text that filters by `tag` (quoted when it has spaces)."""
    return f'tag:"{tag}"' if " " in tag else f"tag:{tag}"


# The cheat sheet behind the search box's "?" (docs/SEARCH.md has the same table).
SYNTAX = (
    ("red circle", "the text to rank by, in any language"),
    ("+sled", "pull the query towards another phrase"),
    ("-adults", "NOT: remove the photos that match “adults”"),
    ('tag:beach  tag:"new year"', "only photos with every one of these tags"),
    ("-tag:work", "remove the photos with that tag"),
    ("folder:~/Pictures/2024", "only photos under that folder"),
    ("date:2024  date:2024-06", "taken in that year / month / day"),
    ("after:2023-06-01  before:2024", "from that day on / before it"),
    ("type:png", "by file type (" + ", ".join(sorted(TYPE_EXTENSIONS)) + ")"),
    ("is:duplicate", "photos that have a near-duplicate"),
    ('album:Summer  album:"Red hearts"', "a saved search's terms, with the rest"),
    ("sort:date  sort:relevance", "order of the matches (relevance by default)"),
)
