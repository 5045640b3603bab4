"""The staff lists' one helper: read filters, sort and page from the query string (a bad value is
ignored with a note, never a 422), page the query, and export the same filtered rows as CSV."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from conveyor.core.keyset import capped_count
from conveyor.core.spreadsheet import to_csv

PAGE_SIZE = 50
# An export holds every filtered row, up to this many (a spreadsheet's worth, bounded).
EXPORT_LIMIT = 20_000
MAX_PAGE = 1_000_000
MAX_VALUE_LENGTH = 100
SORT_PARAM, DIRECTION_PARAM, PAGE_PARAM = "sort", "dir", "page"


def offset(page_number: int) -> int:
    """The first row of page `page_number` (PAGE_SIZE rows a page)."""
    return (page_number - 1) * PAGE_SIZE


class Paged:
    """What the pager (_pager.html `pager`) shows: the page, the rows in all, how many pages,
    and `url(page=n)` for the others. A ListView is one; a Pager serves the other lists."""

    page_number: int
    count: int
    count_exact: bool = True  # False: at least `count` rows (counting stopped at the cap)

    def url(self, **changes: Any) -> str:
        raise NotImplementedError

    @property
    def has_next(self) -> bool:
        """A page after this one (when the count stopped at the cap, there may be)."""
        return self.page_number < self.pages or not self.count_exact

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PAGE_SIZE))


@dataclass(frozen=True)
class Pager(Paged):
    """The pager of a list that reads its own query (the settings lists): `params` are the
    filters its page links keep."""

    path: str
    page_number: int
    count: int
    params: Mapping[str, str] = field(default_factory=dict)

    def url(self, **changes: Any) -> str:
        """This list with the same filters, and `changes` applied (page=2)."""
        params = {**self.params, **{k: str(v) for k, v in changes.items()}}
        return f"{self.path}?{urlencode({k: v for k, v in params.items() if v})}"


@dataclass(frozen=True)
class Filter:
    """One filter of a list: a text box, a date, or a choice among `choices`."""

    name: str
    label: str
    kind: Literal["text", "date", "choice", "number"] = "text"
    choices: Sequence[str] = ()
    placeholder: str = ""

    def parse(self, raw: str) -> str | date | int:
        """The value as the query uses it; ValueError (with why) when it cannot be."""
        if len(raw) > MAX_VALUE_LENGTH:
            raise ValueError(f"longer than {MAX_VALUE_LENGTH} characters")
        if self.kind == "date":
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ValueError("not a date (YYYY-MM-DD)") from None
        if self.kind == "number":
            if not raw.isdigit() or not 0 < int(raw) < 2**31:
                raise ValueError("not a positive whole number")
            return int(raw)
        if self.kind == "choice" and raw not in self.choices:
            raise ValueError(f"not one of {', '.join(self.choices)}")
        return raw


@dataclass(frozen=True)
class Listing:
    """The shape of one list page: where it lives, its filters and the columns it sorts by
    (sort key -> SQL expression; `tiebreak` keeps the order of equal rows stable)."""

    path: str
    filters: Sequence[Filter]
    sorts: Mapping[str, Any]
    default_sort: str
    tiebreak: Any
    default_desc: bool = True


@dataclass
class ListView(Paged):
    """One request's reading of a list: accepted filter values, sort, page, and notes on what
    was ignored. Templates build their links from it."""

    listing: Listing
    values: dict[str, Any]
    sort: str
    desc: bool
    page_number: int
    notes: list[str] = field(default_factory=list)
    count: int = 0
    count_exact: bool = True

    def get(self, name: str) -> Any:
        """A filter's accepted value, None when not given (or ignored)."""
        return self.values.get(name)

    def form_value(self, name: str) -> str:
        """A filter's value as the form shows it again."""
        value = self.values.get(name)
        return "" if value is None else str(value)

    def _params(self, **changes: Any) -> dict[str, str]:
        params = {name: self.form_value(name) for name in self.values}
        params[SORT_PARAM] = self.sort
        params[DIRECTION_PARAM] = "desc" if self.desc else "asc"
        params.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in params.items() if v}

    def url(self, **changes: Any) -> str:
        """This list with the same filters and sort, and `changes` applied (page=2, ...)."""
        return f"{self.listing.path}?{urlencode(self._params(**changes))}"

    def sort_url(self, key: str) -> str:
        """The header link: sort by `key`; the current sort column flips its direction."""
        if key == self.sort:
            direction = "asc" if self.desc else "desc"
        else:
            direction = "desc" if self.listing.default_desc else "asc"
        return self.url(**{SORT_PARAM: key, DIRECTION_PARAM: direction, PAGE_PARAM: 1})

    def sorted_as(self, key: str) -> str | None:
        """`ascending`/`descending` for the sorted column (aria-sort), else None."""
        return None if key != self.sort else ("descending" if self.desc else "ascending")

    @property
    def export_url(self) -> str:
        """The CSV of every row these filters select, in this order."""
        params = self._params()
        return f"{self.listing.path}.csv?{urlencode(params)}"

    def order_by(self) -> list[Any]:
        """The ORDER BY terms: the chosen column, then the tiebreak the same way."""
        column = self.listing.sorts[self.sort]
        terms = [column.desc() if self.desc else column.asc()]
        tiebreak = self.listing.tiebreak
        terms.append(tiebreak.desc() if self.desc else tiebreak.asc())
        return terms


def read(listing: Listing, request: Request) -> ListView:
    """Filters, sort and page from the query string; what cannot be used is left out, noted."""
    params = request.query_params
    notes: list[str] = []
    values: dict[str, Any] = {}
    for spec in listing.filters:
        raw = params.get(spec.name, "").strip()
        if not raw:
            continue
        try:
            values[spec.name] = spec.parse(raw)
        except ValueError as exc:
            notes.append(f"Ignored {spec.label.lower()} “{raw[:40]}”: {exc}.")
    sort = params.get(SORT_PARAM, "") or listing.default_sort
    if sort not in listing.sorts:
        notes.append(f"Ignored sort “{sort[:40]}”: this list sorts by {', '.join(listing.sorts)}.")
        sort = listing.default_sort
    direction = params.get(DIRECTION_PARAM, "")
    desc = listing.default_desc if direction not in ("asc", "desc") else direction == "desc"
    if direction and direction not in ("asc", "desc"):
        notes.append(f"Ignored direction “{direction[:40]}”: asc or desc.")
    raw_page = params.get(PAGE_PARAM, "") or "1"
    page_number = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) <= MAX_PAGE else 1
    if str(page_number) != raw_page:
        notes.append(f"Ignored page “{raw_page[:40]}”: showing page 1.")
    return ListView(listing, values, sort, desc, page_number, notes)


def day_start(value: date) -> datetime:
    """Midnight UTC at the start of `value` (a "from" date includes its day)."""
    return datetime.combine(value, time(), tzinfo=UTC)


def day_end(value: date) -> datetime:
    """Midnight UTC after `value` (an "until" date includes its day: compare with <)."""
    return day_start(value + timedelta(days=1))


def rows(session: Session, view: ListView, query: Any) -> list[Any]:
    """One page of `query` in the view's order; sets `view.count` to the matching rows, counted
    up to COUNT_CAP (a year of orders is not counted on every page view: "10,000+ found")."""
    first = offset(view.page_number)
    view.count, view.count_exact = capped_count(session, query)
    if view.count_exact and first >= view.count:
        return []
    return list(session.exec(query.order_by(*view.order_by()).offset(first).limit(PAGE_SIZE)))


def export(
    session: Session,
    view: ListView,
    query: Any,
    *,
    header: Sequence[str],
    row: Callable[[Any], Iterable[object]],
    filename: str,
) -> Response:
    """Every row the filters select (up to EXPORT_LIMIT), as CSV (formula-injection safe)."""
    found = session.exec(query.order_by(*view.order_by()).limit(EXPORT_LIMIT)).all()
    body = to_csv(header, (list(row(item)) for item in found))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-{stamp}.csv"'},
    )


def context(view: ListView, name: str, items: list[Any], **extra: Any) -> dict[str, Any]:
    """What a list template gets: the nav key, the view (filters, sort, pager) and its rows."""
    return {"page": name, "view": view, "items": items, **extra}
