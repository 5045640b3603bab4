"""A record's form page (settings, suppliers): shown, saved from the posted form, refused with
the errors on the page, or a redirect to the record with a flash."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, SQLModel

from api.deps import Principal
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError
from conveyor.pages.history import record_history
from conveyor.pages.settings_forms import (
    FieldRefused,
    FormField,
    FormTooLong,
    errors_of,
    read_form,
    status_of,
    to_input,
)
from conveyor.pages.web import WebSession, flash_redirect, page_refusal, render

R = TypeVar("R")


class Refusal(Enum):
    """Where the service's refusal (a DomainError) of a posted form is shown."""

    ERROR_PAGE = "error_page"  # not caught here: the error page
    FORM = "form"  # above the form, which answers with the refusal's status
    ALERT = "alert"  # a red flash on the record's page, after a 303 back to it


@dataclass(frozen=True)
class Refused:
    """A form that was not saved: its text as posted, the messages by field, the status."""

    values: dict[str, str]
    errors: dict[str, str]
    status: int


async def submit(
    request: Request,
    session: Session,
    fields: Sequence[FormField],
    save: Callable[[dict[str, str]], R],
    *,
    refusals: tuple[type[ValueError | DomainError], ...] = (),
) -> R | Refused:
    """`save` the posted text of `fields`. Bad input (too long, invalid, a field refused) and
    the `refusals` roll the transaction back and come back as Refused; anything else raises."""
    values: dict[str, str] = {}
    try:
        values = await read_form(request, fields)
        return save(values)
    except (ValidationError, FormTooLong, FieldRefused, *refusals) as exc:
        session.rollback()
        return Refused(values, errors_of(exc), status_of(exc))


@dataclass(frozen=True)
class FormPage:
    """One kind of record's form page: its template, its fields and where the record lives.

    The record's page is `<base>/<key>` (`key`: the attribute naming it, also in its audit
    history). A `code_field` is asked on the new record's form only and kept afterwards.
    """

    template: str
    section: str  # the navigation's `page`
    record_name: str  # what the template calls the record
    base: str
    key: str
    entity: str  # the audit entity of the record's history
    fields: tuple[FormField, ...]
    create_shape: type[SQLModel]
    update_shape: type[SQLModel]
    manage: Permission  # who may edit (the template's `can_manage`)
    code_field: FormField | None = None
    taken: tuple[type[Exception], ...] = ()  # the service's "that code is taken": by the code
    drop_empty: bool = False  # a new record takes the model's defaults for empty fields
    extra: Callable[[Session, Any], dict[str, Any]] | None = None  # what else the page shows

    def url(self, record: Any) -> str:
        """The record's page."""
        return f"{self.base}/{getattr(record, self.key)}"

    def show(
        self,
        request: Request,
        principal: Principal,
        session: Session,
        *,
        record: Any,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """The form (a new record's when `record` is None) with the record's history;
        `context` adds to (or overrides) what the page shows."""
        key = getattr(record, self.key) if record is not None else None
        page: dict[str, Any] = {
            "page": self.section,
            self.record_name: record,
            "code_field": self.code_field,
            "fields": self.fields,
            "values": values,
            "errors": errors or {},
            "can_manage": principal.can(self.manage),
            "history": record_history(session, principal, self.entity, key)
            if key is not None
            else None,
        }
        if self.extra is not None:
            page |= self.extra(session, record)
        return render(
            request, self.template, page | context, principal=principal, status_code=status_code
        )

    async def create(
        self,
        request: Request,
        session: Session,
        web: WebSession,
        principal: Principal,
        *,
        save: Callable[[Any], Any],
        done: Callable[[Any], str],
        refused: Refusal = Refusal.ERROR_PAGE,
    ) -> Response:
        """Validate the new record's form as `create_shape` and `save` it (returning the record);
        then off to its page with `done(record)` as the flash."""
        fields = self.fields if self.code_field is None else (self.code_field, *self.fields)

        def validated(values: dict[str, str]) -> Any:
            body = self.create_shape.model_validate(
                to_input(fields, values, drop_empty=self.drop_empty)
            )
            try:
                return save(body)
            except self.taken as exc:
                name = self.code_field.name if self.code_field else ""
                raise FieldRefused(name, str(exc)) from exc

        return await self._post(
            request, session, web, principal, record=None, fields=fields, save=validated,
            done=done, refused=refused,
        )  # fmt: skip

    async def update(
        self,
        request: Request,
        session: Session,
        web: WebSession,
        principal: Principal,
        *,
        record: Any,
        save: Callable[[Any], object],
        done: str,
        refused: Refusal = Refusal.ALERT,
    ) -> Response:
        """Validate the edited form as a whole `create_shape` (errors by field; the code stays)
        and `save` it as `update_shape`; then back to the record's page with `done`."""
        code = self.code_field
        kept = {} if code is None else {code.name: getattr(record, code.name)}

        def validated(values: dict[str, str]) -> Any:
            data = to_input(self.fields, values)
            self.create_shape.model_validate(kept | data)
            save(self.update_shape.model_validate(data))
            return record

        return await self._post(
            request, session, web, principal, record=record, fields=self.fields, save=validated,
            done=lambda _: done, refused=refused,
        )  # fmt: skip

    def act(
        self,
        request: Request,
        session: Session,
        web: WebSession,
        principal: Principal,
        *,
        record: Any,
        action: Callable[[], object],
        done: str,
        refused: str,
    ) -> Response:
        """Do `action` to the record (retire it, end it): back to its page with `done`, or with
        the refusal as an alert `"<refused>: <why>"`."""
        try:
            action()
        except DomainError as exc:
            session.rollback()
            return page_refusal(
                request, exc, web=web, flash=refused, back=self.url(record), principal=principal
            )
        return flash_redirect(request, web, self.url(record), done)

    async def _post(
        self,
        request: Request,
        session: Session,
        web: WebSession,
        principal: Principal,
        *,
        record: Any,
        fields: Sequence[FormField],
        save: Callable[[dict[str, str]], Any],
        done: Callable[[Any], str],
        refused: Refusal,
    ) -> Response:
        refusals = (DomainError,) if refused is Refusal.FORM else ()
        try:
            outcome = await submit(request, session, fields, save, refusals=refusals)
        except DomainError as exc:
            if refused is not Refusal.ALERT:
                raise
            session.rollback()
            back = self.url(record) if record is not None else f"{self.base}/new"
            return page_refusal(
                request, exc, web=web, flash="Not saved", back=back, principal=principal
            )
        if isinstance(outcome, Refused):
            return self.show(
                request, principal, session, record=record, values=outcome.values,
                errors=outcome.errors, status_code=outcome.status,
            )  # fmt: skip
        return flash_redirect(request, web, self.url(outcome), done(outcome))
