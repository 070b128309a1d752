"""Message templates (issue 19): a text with ``${var}`` variables, a sign name, per-variable
limits, and the rendering that gives the carrier its text and everyone else a masked one.

What a shop's API knows from Alibaba Cloud and Tencent Cloud SMS: a template is named, has a
kind (``otp``, ``notification``, ``marketing``, or any lane), a text such as
``您的验证码是${code}`` and a sign name (``【ShopCN】``). A send names the template and
its params; :func:`render` checks every param and returns two texts:

- ``text``, what the carrier gets: the params substituted, the signature placed (prefix by
  default, never a second one), and for ``marketing`` the opt-out suffix (``回T退订``) if the
  text lacks it;
- ``masked``, what the store, the logs, the webhooks and the status API keep: the same with
  every *secret* param as ``******`` (six stars whatever its length). ``${code}`` in an ``otp``
  template is secret unless its :class:`Variable` says otherwise, so a leaked database holds no
  usable code. No error raised here carries a param's value.

Syntax: ``${name}`` is a variable (a letter or ``_``, then letters, digits or ``_``, at most 64);
``$$`` is a literal ``$``; a ``$`` before anything else is itself. ``${`` not closing on a good
name is an error naming what follows it.

:func:`preview` says what a text costs (encoding, parts, units per part), for
``POST /v1/segments`` and billing; it is :func:`smsengine.text.count` with errors named.

Everything here is sans-I/O and reads no clock. Errors are :class:`TemplateError`, a
``ValueError`` whose ``field`` is the path of what is wrong (``text``, ``variables.code``,
``params.code``) and whose ``param`` is the param's name when a param is at fault.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import msgspec

from ..text import (
    DEFAULT_ENCODINGS,
    Count,
    Encoding,
    SplitMethod,
    TextError,
    count,
)

__all__ = [
    "DEFAULT_OPTOUT_SUFFIX",
    "MASK",
    "Placement",
    "Rendered",
    "Renderer",
    "Template",
    "TemplateError",
    "Variable",
    "decorate",
    "preview",
    "render",
    "template_variables",
]

#: What a secret param becomes in the masked text: always six stars, so not even its length shows.
MASK: Final = "******"
#: The opt-out suffix ``marketing`` gets when none is configured ("reply T to unsubscribe").
DEFAULT_OPTOUT_SUFFIX: Final = "回T退订"

Placement = Literal["prefix", "suffix"]

MAX_TEXT: Final = 1000  # characters of a template's text: 15 UCS2 parts, well past any template
MAX_SIGN_NAME: Final = 20
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KIND: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VARIABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# One token of a text: $$, ${good_name}, ${ (anything else: an error), or a run without '$'.
_TOKEN: Final = re.compile(r"\$\$|\$\{(?:([A-Za-z_][A-Za-z0-9_]{0,63})\})?|\$|[^$]+")
# C0 and C1 controls but for tab and line breaks (format characters such as the ZWJ in emoji
# sequences are fine).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A signature at either end of a text: 【…】 with no bracket inside.
# (19: MAX_SIGN_NAME - 1)
_LEADING_SIGN: Final = re.compile(r"\A\s*【[^【】\s][^【】]{0,19}】")
_TRAILING_SIGN: Final = re.compile(r"【[^【】\s][^【】]{0,19}】\s*\Z")


class TemplateError(ValueError):
    """A template, or a send's params, that cannot be used. ``field`` is the path of what is at
    fault (``name``, ``kind``, ``text``, ``sign_name``, ``variables.<var>``, ``params.<var>``,
    ``max_parts``); ``param`` is the param's name when it is a param. The message never
    carries a param's value."""

    retriable = False

    def __init__(self, field: str, problem: str, *, param: str | None = None) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.param = param


def _param_error(name: str, problem: str) -> TemplateError:
    return TemplateError(f"params.{name}", problem, param=name)


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[str | None, ...]:
    """The text cut into pieces: a literal is a str, a variable is None followed by its name;
    literals are joined. Raises TemplateError(field='text') for a malformed ``${``."""
    pieces: list[str | None] = []
    literal: list[str] = []
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token == "$$":
            literal.append("$")
        elif token == "${":
            # (the regex's name group did not match: no good name, or no closing brace)
            following = text[m.end():m.end() + 20]
            raise TemplateError("text", f"bad variable at position {m.start()}: "
                                        f"'${{{following}' (a name is a letter or _, then "
                                        f"letters, digits or _, closed by }})")
        elif token.startswith("${"):
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.extend((None, m.group(1)))
        else:
            literal.append(token)
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def template_variables(text: str) -> tuple[str, ...]:
    """The names of the variables in ``text``, in order of first use."""
    pieces = _parse(text)
    names = [pieces[i + 1] for i, p in enumerate(pieces) if p is None]
    return tuple(dict.fromkeys(n for n in names if n is not None))


class Variable(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Limits on one variable's param. ``max_length`` in characters; ``digits``: ASCII 0-9
    only; ``secret``: masked wherever the message is kept (None: the default, which is True
    for ``code`` in an ``otp`` template and False otherwise; a :class:`Template` resolves it)."""

    max_length: int | None = None
    digits: bool = False
    secret: bool | None = None

    def __post_init__(self) -> None:
        if self.max_length is not None and not 1 <= self.max_length <= MAX_TEXT:
            raise ValueError(f"max_length must be 1..{MAX_TEXT}")


class Template(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A message template, validated when built (also when decoded from JSON).

    ``variables`` gives each variable's limits; left empty, it is read from the text (every
    variable with no limits). When given, it must name exactly the text's variables: a
    variable in the text that it does not declare is an unknown variable, and one it declares
    that the text does not use is an error too, each named. ``sign_name`` is kept without its
    brackets (``【ShopCN】`` and ``ShopCN`` are the same). ``max_parts`` (1 for a code that must
    arrive whole) is checked by :func:`render` against the channel's encodings. ``version``
    and ``created_at`` are set by the template store."""

    name: str
    kind: str
    text: str
    sign_name: str | None = None
    variables: dict[str, Variable] = msgspec.field(default_factory=dict)
    max_parts: int | None = None
    version: int = 1
    created_at: float | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise TemplateError("name", "1-64 letters, digits, '_', '.' or '-', starting with "
                                        "a letter or digit")
        kind = self.kind.lower()
        if not _KIND.fullmatch(kind):
            raise TemplateError("kind", "a lowercase word: otp, notification, marketing, …")
        if not self.text.strip():
            raise TemplateError("text", "is empty")
        if len(self.text) > MAX_TEXT:
            raise TemplateError("text", f"is longer than {MAX_TEXT} characters")
        if self.max_parts is not None and not 1 <= self.max_parts <= 255:
            raise TemplateError("max_parts", "must be 1..255")
        if self.version < 1:
            raise TemplateError("version", "must be >= 1")
        used = template_variables(self.text)  # raises for a malformed ${
        declared = self.variables
        for name in declared:
            if not _VARIABLE.fullmatch(name):
                raise TemplateError(f"variables.{name}", "bad variable name (a letter or _, "
                                                         "then letters, digits or _)")
        if declared:
            for name in used:
                if name not in declared:
                    raise TemplateError("text", f"unknown variable ${{{name}}} (not in "
                                                f"variables)")
            for name in declared:
                if name not in used:
                    raise TemplateError(f"variables.{name}", "is not used in the text")
        resolved = {name: _resolve(name, declared.get(name), kind) for name in used}
        sign = _bare_sign(self.sign_name) if self.sign_name is not None else None
        set_ = msgspec.structs.force_setattr
        set_(self, "kind", kind)
        set_(self, "variables", resolved)
        set_(self, "sign_name", sign)

    def secret(self, name: str) -> bool:
        """Whether the param ``name`` is masked."""
        return bool(self.variables[name].secret)


def _resolve(name: str, spec: Variable | None, kind: str) -> Variable:
    spec = spec or Variable()
    if spec.secret is not None:
        return spec
    return msgspec.structs.replace(spec, secret=(kind == "otp" and name == "code"))


def _bare_sign(sign: str) -> str:
    """A sign name without its 【】, checked."""
    bare = sign.strip()
    if bare.startswith("【") and bare.endswith("】"):
        bare = bare[1:-1].strip()
    if not bare:
        raise TemplateError("sign_name", "is empty")
    if len(bare) > MAX_SIGN_NAME:
        raise TemplateError("sign_name", f"is longer than {MAX_SIGN_NAME} characters")
    if "【" in bare or "】" in bare or not bare.isprintable():
        raise TemplateError("sign_name", "may not hold 【, 】 or control characters")
    return bare


class Rendered(msgspec.Struct, frozen=True, kw_only=True):
    """A rendered message. ``text`` goes to the carrier and nowhere else; ``masked`` (equal to
    ``text`` when nothing is secret) is what may be stored, logged or shown."""

    text: str
    masked: str
    template: str
    version: int
    parts: int | None = None  # counted when the template has max_parts, else None


def _check_param(template: Template, name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _param_error(name, "must be a string")
    text = str(value)
    spec = template.variables[name]
    if not text:
        raise _param_error(name, "is empty")
    if spec.max_length is not None and len(text) > spec.max_length:
        raise _param_error(name, f"is longer than {spec.max_length} characters")
    if spec.digits and not (text.isascii() and text.isdigit()):
        raise _param_error(name, "must be digits (0-9)")
    if "【" in text or "】" in text:
        raise _param_error(name, "may not hold 【 or 】 (they mark a signature)")
    if _CONTROL.search(text):
        raise _param_error(name, "may not hold control characters")
    return text


def _has_optout(text: str, suffix: str) -> bool:
    return suffix.casefold() in text.casefold()


def _substitute(template: Template, values: Mapping[str, str]) -> str:
    out: list[str] = []
    variable = False
    for piece in _parse(template.text):
        if piece is None:  # the next piece is a variable's name
            variable = True
        elif variable:
            out.append(values[piece])
            variable = False
        else:
            out.append(piece)
    return "".join(out)


def _assemble(template: Template, values: Mapping[str, str], sign: str | None,
              placement: Placement, optout: str,
              masked: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The text with ``values``, and the same with ``masked`` (secret params masked), laid
    out by the same decisions: whether it carries a signature already and where, whether it
    carries the opt-out suffix. They are taken on the masked text, so that no secret can
    change them (a code holding 回T退订 then gets the suffix anyway): the masked text must
    not tell anything of a secret, not even one bit. Params hold no 【 or 】, so a signature
    found in one text sits between the same brackets in the other."""
    body = _substitute(template, values)
    shown = body if masked is None else _substitute(template, masked)
    return _layout(body, shown, template.kind, sign, placement, optout)


def _layout(body: str, shown: str, kind: str, sign: str | None, placement: Placement,
            optout: str) -> tuple[str, str]:
    """:func:`_assemble`'s decisions on a text and its masked twin."""
    text, shown, _ = _layout_decided(body, shown, kind, sign, placement, optout)
    return text, shown


def _layout_decided(body: str, shown: str, kind: str, sign: str | None, placement: Placement,
                    optout: str) -> tuple[str, str, tuple[bool, bool, str | None]]:
    """:func:`_layout`, and its decisions: a leading signature, a trailing one, the
    separator before the opt-out suffix (None: no suffix added)."""
    lead = _LEADING_SIGN.match(shown)
    trail = None if lead else _TRAILING_SIGN.search(shown)
    if lead:  # the signature ends at the first 】 (none inside one), in both texts
        cut, cut_shown = body.index("】") + 1, lead.end()
        head, core, tail = body[:cut], body[cut:], ""
        head_shown, core_shown, tail_shown = shown[:cut_shown], shown[cut_shown:], ""
    elif trail:  # it starts at the last 【
        cut, cut_shown = body.rindex("【"), trail.start()
        head, core, tail = "", body[:cut], body[cut:]
        head_shown, core_shown, tail_shown = "", shown[:cut_shown], shown[cut_shown:]
    else:
        head = tail = head_shown = tail_shown = ""
        core, core_shown = body, shown
    added = None
    if optout and kind == "marketing" and not _has_optout(core_shown, optout):
        # An English suffix after a word needs a space; Chinese text takes it as it is.
        last = core_shown[-1:]
        added = sep = " " if optout[:1].isascii() and last.isascii() and not last.isspace() else ""
        core += sep + optout
        core_shown += sep + optout
    if not lead and not trail and sign:
        if placement == "prefix":
            head = head_shown = f"【{sign}】"
        else:
            tail = tail_shown = f"【{sign}】"
    return (head + core + tail, head_shown + core_shown + tail_shown,
            (lead is not None, trail is not None, added))


def render(template: Template, params: Mapping[str, object], *,
           signature: str | None = None, placement: Placement = "prefix",
           optout_suffix: str | None = None,
           encodings: Sequence[Encoding] = DEFAULT_ENCODINGS,
           method: SplitMethod = SplitMethod.UDH8) -> Rendered:
    """The text for the carrier and its masked twin; see the module docstring.

    ``signature`` is the sign name to use when the template has none (the API key's);
    ``placement`` where a signature goes; ``optout_suffix`` the ``marketing`` suffix (None:
    :data:`DEFAULT_OPTOUT_SUFFIX`; ``""``: none). ``encodings`` and ``method`` are the
    channel's, for the ``max_parts`` check. A param missing, unknown or invalid, or one that
    makes the text longer than ``max_parts`` (or unencodable), raises :class:`TemplateError`
    naming it (``field='params.<name>'``)."""
    if placement not in ("prefix", "suffix"):
        raise TemplateError("placement", "must be 'prefix' or 'suffix'")
    names = template.variables
    for name in params:
        if name not in names:
            raise _param_error(str(name), "unknown param (not a variable of the template "
                                          f"{template.name!r})")
    values: dict[str, str] = {}
    for name in names:
        if name not in params:
            raise _param_error(name, "is missing")
        values[name] = _check_param(template, name, params[name])
    sign = template.sign_name
    if sign is None and signature is not None:
        try:
            sign = _bare_sign(signature)
        except TemplateError as exc:
            raise TemplateError("signature", exc.problem) from None
    optout = DEFAULT_OPTOUT_SUFFIX if optout_suffix is None else optout_suffix
    secret = [n for n in names if template.secret(n)]
    masked_values = None
    if secret:
        masked_values = dict(values)
        for name in secret:
            masked_values[name] = MASK
    text, masked = _assemble(template, values, sign, placement, optout, masked_values)
    parts = None
    if template.max_parts is not None:
        parts = _check_parts(template, values, text, sign, placement, optout, encodings, method)
    return Rendered(text=text, masked=masked, template=template.name, version=template.version,
                    parts=parts)


# Characters that every encoding carries as one unit, none of them an escape, a line break or
# a joiner, and that UAX #29 treats alike: swapping one for another never changes a count.
_PLAIN: Final = re.compile(r"[ !\"#$%&'()*+,\-./0-9:;<=>?@A-Z_a-z]*")


class Renderer:
    """:func:`render` for many sends of one template with the same options (a campaign's
    rows): what does not depend on the params is worked out once. :meth:`render` gives the
    text and a key; :meth:`parts` counts a text by that key, once per distinct shape (the
    params' lengths and the layout's decisions) when every param is plain ASCII, since the
    count then depends on nothing else. Same answers and errors as :func:`render` and
    :func:`~smsengine.text.count`."""

    MAX_SHAPES: Final = 4096

    def __init__(self, template: Template, *, signature: str | None = None,
                 placement: Placement = "prefix", optout_suffix: str | None = None,
                 encodings: Sequence[Encoding] = DEFAULT_ENCODINGS,
                 method: SplitMethod = SplitMethod.UDH8) -> None:
        self._placement_error = (None if placement in ("prefix", "suffix") else
                                 TemplateError("placement", "must be 'prefix' or 'suffix'"))
        self.template = template
        self.options = (signature, placement, optout_suffix, tuple(encodings), method)
        self._encodings = encodings
        self._method = method
        self._placement: Placement = placement
        self._names = template.variables
        self._sign_error: TemplateError | None = None
        sign = template.sign_name
        if sign is None and signature is not None:
            try:
                sign = _bare_sign(signature)
            except TemplateError as exc:
                self._sign_error = TemplateError("signature", exc.problem)
        self._sign = sign
        self._optout = DEFAULT_OPTOUT_SUFFIX if optout_suffix is None else optout_suffix
        self._secret = [n for n in self._names if template.secret(n)]
        self._parts: dict[tuple[object, ...], int] = {}

    def render(self, params: Mapping[str, object]) -> tuple[str, tuple[object, ...] | None]:
        """The carrier's text and its shape (None: a param is not plain)."""
        if self._placement_error is not None:
            raise self._placement_error
        template, names = self.template, self._names
        for name in params:
            if name not in names:
                raise _param_error(str(name), "unknown param (not a variable of the template "
                                              f"{template.name!r})")
        values: dict[str, str] = {}
        plain = _PLAIN.fullmatch
        shape: list[object] | None = []
        for name in names:
            if name not in params:
                raise _param_error(name, "is missing")
            value = values[name] = _check_param(template, name, params[name])
            if shape is not None:
                if plain(value):
                    shape.append(len(value))
                else:
                    shape = None
        if self._sign_error is not None:
            raise self._sign_error
        sign, optout = self._sign, self._optout
        body = _substitute(template, values)
        shown = body
        if self._secret:
            masked = dict(values)
            for name in self._secret:
                masked[name] = MASK
            shown = _substitute(template, masked)
        text, _, decided = _layout_decided(body, shown, template.kind, sign, self._placement,
                                           optout)
        if template.max_parts is not None:
            _check_parts(template, values, text, sign, self._placement, optout,
                         self._encodings, self._method)
        if shape is None:
            return text, None
        shape.append(decided)
        return text, tuple(shape)

    def parts(self, text: str, shape: tuple[object, ...] | None) -> int:
        """``count(text, allowed=encodings, method=method).parts`` (ValueError as it)."""
        if shape is not None:
            found = self._parts.get(shape)
            if found is not None:
                return found
        parts = count(text, allowed=self._encodings, method=self._method).parts
        if shape is not None:
            if len(self._parts) >= self.MAX_SHAPES:
                self._parts.clear()
            self._parts[shape] = parts
        return parts


def _check_parts(template: Template, values: dict[str, str], text: str, sign: str | None,
                 placement: Placement, optout: str, encodings: Sequence[Encoding],
                 method: SplitMethod) -> int:
    """The parts ``text`` needs, or an error naming the param that takes it past max_parts:
    the template alone not fitting is ``text``; otherwise the params are put in one by one,
    in the text's order, the others empty, and the first after which the text no longer fits
    is named."""
    limit = template.max_parts
    assert limit is not None

    def parts_of(candidate: str) -> int | None:
        try:
            return count(candidate, allowed=encodings, method=method).parts
        except TextError:
            return None

    parts = parts_of(text)
    if parts is not None and parts <= limit:
        return parts
    # The template's own text (with its signature and suffix) may be what does not fit.
    got = parts_of(_assemble(template, dict.fromkeys(values, ""), sign, placement, optout)[0])
    if got is None:
        raise TemplateError("text", "holds a character none of the channel's encodings can "
                                    "carry")
    if got > limit:
        raise TemplateError("text", f"needs {got} parts without its params; the template "
                                    f"allows {limit}")
    partial = dict.fromkeys(values, "")
    for name in values:
        partial[name] = values[name]
        got = parts_of(_assemble(template, partial, sign, placement, optout)[0])
        if got is None:
            raise _param_error(name, f"holds a character none of the channel's encodings "
                                     f"({', '.join(e.value for e in encodings)}) can carry")
        if got > limit:
            raise _param_error(name, f"makes the text {got} parts; the template allows "
                                     f"{limit}")
    raise AssertionError("the text with every param fits, yet it did not")  # pragma: no cover


def decorate(text: str, kind: str, *, signature: str | None = None,
             placement: Placement = "prefix", optout_suffix: str | None = None) -> str:
    """A plain text (no template) laid out as :func:`render` lays out a template's: the
    signature placed unless the text carries one, the ``marketing`` opt-out suffix appended
    if it lacks it. For a send that gives its own text with an API key that has a sign
    name. A bad ``signature`` raises :class:`TemplateError` (``field='signature'``)."""
    if placement not in ("prefix", "suffix"):
        raise TemplateError("placement", "must be 'prefix' or 'suffix'")
    sign = None
    if signature is not None:
        try:
            sign = _bare_sign(signature)
        except TemplateError as exc:
            raise TemplateError("signature", exc.problem) from None
    optout = DEFAULT_OPTOUT_SUFFIX if optout_suffix is None else optout_suffix
    return _layout(text, text, kind.lower(), sign, placement, optout)[0]


def preview(text: str, encodings: Sequence[Encoding] = DEFAULT_ENCODINGS, *,
            method: SplitMethod = SplitMethod.UDH8) -> Count:
    """What ``text`` costs on a channel with these encodings: its encoding, parts, units per
    part and room left (:class:`smsengine.text.Count`), for ``POST /v1/segments``. A text no
    encoding can carry raises :class:`TemplateError` (``field='text'``) naming the character
    and its position."""
    if not text:
        raise TemplateError("text", "is empty")
    try:
        return count(text, allowed=encodings, method=method)
    except TextError as exc:  # (UnencodableTextError: names the character and where)
        raise TemplateError("text", str(exc)) from None

