"""One error type for bad input: it names the file, row, field and value, and says what is accepted."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input (catalog, results file, suite file, CLI argument). The CLI prints it and exits 2."""

    def __init__(
        self,
        what: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        value: object = None,
        accepted: str | None = None,
    ):
        self.what, self.file, self.row, self.field = what, file, row, field
        self.value, self.accepted = value, accepted
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        msg = ": ".join([", ".join(where), what]) if where else what
        if value is not None:
            msg += f" (got {value!r})"
        if accepted:
            msg += f"; accepted: {accepted}"
        super().__init__(msg)

    def located(self, file: str | None = None, row: int | None = None) -> InputError:
        """The same error, placed in a file and row (for errors raised before the caller knew where)."""
        return InputError(
            self.what,
            file=file if file is not None else self.file,
            row=row if row is not None else self.row,
            field=self.field,
            value=self.value,
            accepted=self.accepted,
        )
