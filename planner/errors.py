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
        self.file, self.row, self.field, self.value, self.accepted = file, row, field, value, accepted
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
