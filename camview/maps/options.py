"""A map method's options, each declared once beside the method that takes it.

The command line's flags (`--patch`, `--samples`...), render's request and the frozen
frame's widgets in the window are all made from these declarations, so an option is added by
adding one `MethodOption` to its method's `options` (camview.maps.method_options lists them
all). The declaration is also what checks a value, wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from camview.errors import ModelError

#: The types an option's value may have: what argparse converts to and the widget kinds.
OPTION_TYPES = (int, float, str)


@dataclass(frozen=True)
class MethodOption:
    """One keyword option of a method's constructor, which sets the attribute of its name.

    `help` says what the option does without naming the method: the command line and the
    window add the methods that take it, so several methods can share one declaration.
    Numbers take `low` to `high` (both required: the window's spin box needs a range); a
    `str` option takes one of `choices`.
    """

    name: str  # the keyword and attribute; the flag is --name with hyphens
    type: type  # int, float or str
    default: int | float | str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    label: str = ""  # the window's label; "" for the name, capitalised

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise TypeError(f"option {self.name}: type must be one of int, float, str")
        if (self.type is str) != (self.choices is not None):
            raise TypeError(f"option {self.name}: a str option, and only one, takes choices")
        if self.type is not str and (self.low is None or self.high is None):
            raise TypeError(f"option {self.name}: a number needs low and high")
        self.check(self.default)  # a default out of its own range is a bug, found at import

    @property
    def flag(self) -> str:
        """The command-line flag: --max-channels for max_channels."""
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        """What the window's label says."""
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def metavar(self) -> str | None:
        """The flag's value in --help: N for a whole number, X for a number, the choices
        (argparse's own) for a str option."""
        return {int: "N", float: "X"}.get(self.type)

    @property
    def bounds(self) -> str:
        """The range in words, for help and errors: ">= 1 and <= 4096"."""
        return f">= {self.low:g} and <= {self.high:g}"

    def check(self, value: object) -> int | float | str:
        """`value` as the option's type (None: the default), or ModelError in one line."""
        if value is None:
            return self.default
        if self.choices is not None:
            if str(value) not in self.choices:
                raise ModelError(f"{self.flag} must be one of {', '.join(self.choices)}, "
                                 f"not {value!r}")
            return str(value)
        try:
            number = self.type(value)
        except (TypeError, ValueError):
            number = None
        kind = "a whole number" if self.type is int else "a number"
        if number is None or number != value or not self.low <= number <= self.high:
            raise ModelError(f"{self.flag} must be {kind} {self.bounds}, not {value!r}")
        return number


def merge_options(declared: Iterable[Iterable[MethodOption]]) -> tuple[MethodOption, ...]:
    """The options of several methods in order, each name once; two different declarations
    of one name are refused (ValueError): one flag and one widget cannot mean two things."""
    seen: dict[str, MethodOption] = {}
    for options in declared:
        for option in options:
            if seen.setdefault(option.name, option) != option:
                raise ValueError(f"option {option.name} is declared twice, differently: "
                                 f"{seen[option.name]} and {option}")
    return tuple(seen.values())
