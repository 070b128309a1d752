"""Templates: parsing and validation, rendering (params, signature, opt-out suffix, max_parts),
masking of secret params, and preview; hypothesis for round-trips and for masking."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsengine.policy import (
    MASK,
    Placement,
    Renderer,
    Template,
    TemplateError,
    Variable,
    preview,
    render,
    template_variables,
)
from smsengine.text import Encoding, count

OTP_TEXT = "您的验证码是${code}。5分钟内有效。请勿泄露"


def otp(**kw: object) -> Template:
    fields: dict[str, object] = {"name": "login", "kind": "otp", "text": OTP_TEXT,
                                 "sign_name": "ShopCN"}
    fields.update(kw)
    return Template(**fields)  # type: ignore[arg-type]


def error(call: object, *args: object, **kw: object) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        call(*args, **kw)  # type: ignore[operator]
    return info.value


# -- parsing and validation --------------------------------------------------------------------

def test_variables_in_order_of_first_use_and_dollar_escapes() -> None:
    assert template_variables("${a}x${b}${a}") == ("a", "b")
    assert template_variables("$$ ${price} $5 $x $") == ("price",)
    t = Template(name="p", kind="notification", text="$$${price} off, $5 less")
    assert render(t, {"price": "3"}).text == "$3 off, $5 less"


@pytest.mark.parametrize("text", ["code ${1x}", "code ${code", "code ${}", "${ code }",
                                  "${co-de}", "${" + "a" * 65 + "}"])
def test_a_bad_variable_in_the_text_is_named(text: str) -> None:
    e = error(Template, name="t", kind="otp", text=text)
    assert e.field == "text"
    assert "bad variable" in e.problem


def test_an_unknown_variable_in_the_text_is_named() -> None:
    e = error(Template, name="t", kind="notification", text="order ${order} ships ${when}",
              variables={"order": Variable(max_length=20)})
    assert e.field == "text"
    assert "${when}" in str(e)


def test_a_declared_variable_the_text_does_not_use_is_named() -> None:
    e = error(Template, name="t", kind="notification", text="order ${order}",
              variables={"order": Variable(), "when": Variable()})
    assert e.field == "variables.when"


def test_a_bad_declared_variable_name_is_named() -> None:
    e = error(Template, name="t", kind="notification", text="x",
              variables={"9lives": Variable()})
    assert e.field == "variables.9lives"


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "name"), ({"name": "a/b"}, "name"), ({"kind": "OTP lane"}, "kind"),
    ({"text": "  "}, "text"), ({"text": "x" * 1001}, "text"), ({"sign_name": "【】"}, "sign_name"),
    ({"sign_name": "A【B"}, "sign_name"), ({"sign_name": "x" * 21}, "sign_name"),
    ({"max_parts": 0}, "max_parts"), ({"version": 0}, "version"),
])  # fmt: skip
def test_bad_template_fields_are_named(fields: dict[str, object], field: str) -> None:
    assert error(otp, **fields).field == field


def test_variables_are_read_from_the_text_when_not_declared_and_code_is_secret_in_otp() -> None:
    t = otp()
    assert t.kind == "otp"
    assert t.sign_name == "ShopCN"
    assert t.variables == {"code": Variable(secret=True)}
    assert otp(kind="OTP", sign_name="【ShopCN】") == t
    assert not otp(variables={"code": Variable(secret=False)}).secret("code")
    note = Template(name="n", kind="notification", text="order ${code} shipped")
    assert not note.secret("code")
    other = Template(name="o", kind="otp", text="${pin} ${code}")
    assert other.secret("code") and not other.secret("pin")


def test_a_template_round_trips_through_json_and_bad_json_is_a_validation_error() -> None:
    t = otp(variables={"code": Variable(max_length=6, digits=True)}, max_parts=1)
    back = msgspec.json.decode(msgspec.json.encode(t), type=Template)
    assert back == t
    with pytest.raises(msgspec.ValidationError, match="unknown variable"):
        msgspec.json.decode(b'{"name":"a","kind":"otp","text":"${x}","variables":{"y":{}}}',
                            type=Template)


# -- params --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "param", "problem"), [
    ({}, "code", "missing"),
    ({"code": "123456", "extra": "1"}, "extra", "unknown"),
    ({"code": "12a456"}, "code", "digits"),
    ({"code": "1234567"}, "code", "longer than 6"),
    ({"code": ""}, "code", "empty"),
    ({"code": None}, "code", "string"),
    ({"code": True}, "code", "string"),
    ({"code": "١٢٣"}, "code", "digits"),  # Arabic-Indic digits are not 0-9
])  # fmt: skip
def test_a_missing_unknown_or_invalid_param_is_named(params: dict[str, object], param: str,
                                                     problem: str) -> None:
    t = otp(variables={"code": Variable(max_length=6, digits=True)})
    e = error(render, t, params)
    assert (e.field, e.param) == (f"params.{param}", param)
    assert problem in e.problem


def test_params_may_not_forge_a_signature_or_hold_control_characters() -> None:
    t = Template(name="n", kind="notification", text="Hello ${who}", sign_name="Shop")
    assert error(render, t, {"who": "【Bank】"}).param == "who"
    assert error(render, t, {"who": "a\x00b"}).param == "who"
    assert render(t, {"who": "a\nb"}).text == "【Shop】Hello a\nb"
    assert render(t, {"who": 42}).text == "【Shop】Hello 42"


def test_no_error_carries_a_secret_value() -> None:
    t = otp(variables={"code": Variable(max_length=8, digits=True)}, max_parts=1)
    for bad in ("98x7y6", "987654321", "98【76】"):
        e = error(render, t, {"code": bad})
        assert bad not in str(e)
    long_code = "9" * 8
    short = Template(name="s", kind="otp", text="码" * 65 + "${code}", max_parts=1)
    assert long_code not in str(error(render, short, {"code": long_code}))


# -- signature and opt-out --------------------------------------------------------------------

def test_signature_prefix_by_default_suffix_when_asked_and_the_templates_wins() -> None:
    t = otp()
    assert render(t, {"code": "1234"}).text == "【ShopCN】您的验证码是1234。5分钟内有效。请勿泄露"
    assert render(t, {"code": "1234"}, placement="suffix").text.endswith("请勿泄露【ShopCN】")
    assert render(t, {"code": "1"}, signature="KeyShop").text.startswith("【ShopCN】")
    bare = otp(sign_name=None)
    assert render(bare, {"code": "1"}, signature="【KeyShop】").text.startswith("【KeyShop】")
    assert render(bare, {"code": "1"}).text.startswith("您的")
    assert error(render, bare, {"code": "1"}, signature="").field == "signature"
    assert error(render, t, {"code": "1"}, placement="middle").field == "placement"  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["【Own】您的验证码是${code}", "您的验证码是${code}【Own】",
                                  " 【Own】您的验证码是${code}"])
def test_a_text_that_carries_a_signature_gets_no_second(text: str) -> None:
    for placement in ("prefix", "suffix"):
        out = render(otp(text=text), {"code": "1"}, signature="Key", placement=placement).text
        assert out.count("【") == 1 and "Own" in out


def test_brackets_inside_the_text_are_not_a_signature() -> None:
    t = Template(name="n", kind="notification", text="订单【${order}号】已发货".replace("【", "[")
                 .replace("】", "]"), sign_name="Shop")
    assert render(t, {"order": "1"}).text == "【Shop】订单[1号]已发货"
    mid = Template(name="m", kind="notification", text="订单【加急】${order}已发货", sign_name="S")
    assert render(mid, {"order": "1"}).text == "【S】订单【加急】1已发货"


def test_marketing_gets_the_opt_out_suffix_when_it_lacks_it() -> None:
    m = Template(name="sale", kind="marketing", text="双11全场5折", sign_name="ShopCN")
    assert render(m, {}).text == "【ShopCN】双11全场5折回T退订"
    assert render(m, {}, placement="suffix").text == "双11全场5折回T退订【ShopCN】"
    has = Template(name="s2", kind="marketing", text="双11全场5折。回T退订", sign_name="ShopCN")
    assert render(has, {}).text == "【ShopCN】双11全场5折。回T退订"
    en = Template(name="en", kind="marketing", text="Sale: ${pct}% off.", sign_name="Shop")
    stop = "Reply STOP to opt out"
    assert render(en, {"pct": 30}, optout_suffix=stop).text == \
        "【Shop】Sale: 30% off. Reply STOP to opt out"
    lower = Template(name="en2", kind="marketing", text="Sale! reply stop to opt out")
    assert render(lower, {}, optout_suffix=stop).text == "Sale! reply stop to opt out"
    assert render(m, {}, optout_suffix="").text == "【ShopCN】双11全场5折"
    note = Template(name="n", kind="notification", text="已发货")
    assert render(note, {}).text == "已发货"


def test_the_opt_out_goes_before_a_signature_that_ends_the_text() -> None:
    m = Template(name="sale", kind="marketing", text="全场5折【ShopCN】")
    assert render(m, {}, signature="Other").text == "全场5折回T退订【ShopCN】"
    lead = Template(name="sale2", kind="marketing", text="【ShopCN】全场5折")
    assert render(lead, {}).text == "【ShopCN】全场5折回T退订"


# -- max_parts and counting ---------------------------------------------------------------------

def test_a_param_that_pushes_a_one_part_code_into_two_is_named() -> None:
    t = Template(name="t", kind="otp", text="您的验证码是${code}。${minutes}分钟内有效",
                 sign_name="ShopCN", max_parts=1)
    ok = render(t, {"code": "123456", "minutes": "5"})
    assert ok.parts == 1
    # 70 UCS2 units in one part: the signature (8) and the text (12) leave 50 for the params.
    e = error(render, t, {"code": "1" * 47, "minutes": "5555"})
    assert (e.field, e.param) == ("params.minutes", "minutes")
    assert "2 parts" in e.problem and "allows 1" in e.problem
    e = error(render, t, {"code": "1" * 51, "minutes": "5"})
    assert e.param == "code"
    assert render(t, {"code": "1" * 47, "minutes": "555"}).parts == 1
    # The signature is counted: without one, more fits.
    assert render(msgspec.structs.replace(t, sign_name=None), {"code": "1" * 47,
                                                                "minutes": "55555"}).parts == 1


def test_a_param_that_changes_the_encoding_is_the_one_named() -> None:
    t = Template(name="t", kind="otp", text="Your code is ${code}. Hi ${name}" + "x" * 100,
                 max_parts=1)
    assert render(t, {"code": "1234", "name": "Li"}).parts == 1
    e = error(render, t, {"code": "1234", "name": "李"})  # UCS2: 70 units, and the text is 120
    assert e.param == "name"
    gsm_only = error(render, t, {"code": "1234", "name": "李"}, encodings=[Encoding.GSM7])
    assert gsm_only.param == "name" and "encodings" in gsm_only.problem


def test_a_template_too_long_by_itself_names_the_text() -> None:
    t = Template(name="t", kind="otp", text="码" * 80 + "${code}", max_parts=1)
    e = error(render, t, {"code": "1"})
    assert (e.field, e.param) == ("text", None)


def test_templated_chinese_in_one_and_in_three_parts_with_signature_and_suffix() -> None:
    m = Template(name="sale", kind="marketing", sign_name="ShopCN",
                 text="亲爱的${name}。" + "双十一大促全场五折起" * 16)
    r = render(m, {"name": "王先生"})
    count = preview(r.text)
    assert r.text.startswith("【ShopCN】亲爱的王先生。") and r.text.endswith("回T退订")
    # 8 (signature) + 7 + 160 + 4 (回T退订) = 179 UCS2 units: 67 + 67 + 45.
    assert (count.encoding, count.parts, count.per_part) == (Encoding.UCS2, 3, (67, 67, 45))
    short = preview(render(otp(), {"code": "123456"}).text)
    assert (short.parts, short.units) == (1, 8 + 24)


def test_preview_answers_encoding_parts_and_units_and_names_an_unencodable_text() -> None:
    c = preview("hello")
    assert (c.encoding, c.parts, c.per_part, c.units_left) == (Encoding.GSM7, 1, (5,), 155)
    assert preview("您好" * 40).per_part == (67, 13)
    assert preview("hello", [Encoding.UCS2]).encoding is Encoding.UCS2
    e = error(preview, "hi 李", [Encoding.GSM7])
    assert e.field == "text" and "position 3" in str(e)
    assert error(preview, "").field == "text"


# -- hypothesis ----------------------------------------------------------------------------------

_LITERAL = st.text(st.characters(exclude_characters="$【】", exclude_categories=("Cs", "Cc")),
                   min_size=1, max_size=12)
_NAMES = st.sampled_from(["code", "order", "name", "n1", "_x"])
_VALUES = st.text(st.characters(exclude_characters="【】", exclude_categories=("Cs", "Cc")),
                  min_size=1, max_size=12)
_PIECES = st.lists(st.one_of(_LITERAL, _NAMES.map(lambda n: ("var", n)),
                             st.just(("dollar", "$"))), min_size=1, max_size=8)


def _source(pieces: list[object]) -> str:
    out = []
    for p in pieces:
        if isinstance(p, tuple):
            out.append("${" + p[1] + "}" if p[0] == "var" else "$$")
        else:
            out.append(str(p))
    return "".join(out)


def _expected(pieces: list[object], values: dict[str, str]) -> str:
    return "".join(values[p[1]] if isinstance(p, tuple) and p[0] == "var"
                   else "$" if isinstance(p, tuple) else str(p) for p in pieces)


@given(_PIECES, st.dictionaries(_NAMES, _VALUES, min_size=5, max_size=5))
def test_rendering_is_the_literals_and_the_values_in_order(pieces: list[object],
                                                           values: dict[str, str]) -> None:
    source = _source(pieces)
    if not source.strip():
        return
    t = Template(name="t", kind="notification", text=source)
    used = {n: values[n] for n in t.variables}
    assert list(t.variables) == [p[1] for p in dict.fromkeys(
        p for p in pieces if isinstance(p, tuple) and p[0] == "var")]
    out = render(t, used)
    assert out.text == _expected(pieces, used)
    assert out.masked == out.text  # nothing secret in a notification
    assert template_variables(source) == tuple(t.variables)


_SECRETS = st.one_of(st.text("0123456789", min_size=4, max_size=8), _VALUES,
                     st.sampled_from(["回T退订", "x" * 30, " ", "a回T退订b"]))


@given(_PIECES, st.dictionaries(_NAMES, _VALUES, min_size=5, max_size=5), _SECRETS, _SECRETS,
       st.sampled_from(["otp", "marketing"]), st.sampled_from(["", "【Own】", "【${code}】"]),
       st.sampled_from(["prefix", "suffix"]))
def test_masking_never_depends_on_a_secret_value(
        pieces: list[object], values: dict[str, str], code_a: str, code_b: str, kind: str,
        ends: str, placement: Placement) -> None:
    pieces = [*pieces, ("var", "code")]
    source = _source(pieces)
    text = ends + source if placement == "prefix" else source + ends
    names = template_variables(text)
    t = Template(name="t", kind=kind, text=text, sign_name="Shop",
                 variables={n: Variable(secret=n == "code") for n in names})
    used = {n: values[n] for n in names if n != "code"}
    a = render(t, {**used, "code": code_a}, placement=placement)
    b = render(t, {**used, "code": code_b}, placement=placement)
    assert a.masked == b.masked  # the masked text holds nothing of the code, not even a bit
    assert a.masked.count(MASK) >= text.count("${code}")
    if kind == "otp" and not ends:
        assert a.masked == "【Shop】" + _expected(pieces, {**used, "code": MASK}) \
            if placement == "prefix" else _expected(pieces, {**used, "code": MASK}) + "【Shop】"
        assert code_a in a.text


def test_a_distinctive_code_is_never_in_the_masked_text() -> None:
    r = render(otp(), {"code": "918273"})
    assert "918273" in r.text and "918273" not in r.masked
    assert r.masked == "【ShopCN】您的验证码是******。5分钟内有效。请勿泄露"


def test_a_secret_cannot_change_the_layout_of_the_masked_text() -> None:
    t = Template(name="m", kind="marketing", text="券码${code}", sign_name="Shop",
                 variables={"code": Variable(secret=True)})
    plain = render(t, {"code": "AB12"})
    tricky = render(t, {"code": "回T退订"})  # the suffix is added all the same
    assert plain.masked == tricky.masked == "【Shop】券码******回T退订"
    assert tricky.text == "【Shop】券码回T退订回T退订"


_PIECES = ["a", "Z", "9", " ", "@", "$", "_", "€", "回", "😀", "\u0301", "Reply TD to opt out",
           "回T退订", "【", "\x01"]


@given(st.sampled_from([
    Template(name="a", kind="marketing", text="Hi ${name}, everything is 50% off today."),
    Template(name="b", kind="marketing", text="${x}【Shop】 hello ${y} €{} 😀 ${x}"),
    Template(name="c", kind="notification", text="${x} 回T退订 ${y}【Brand】", max_parts=2),
    Template(name="d", kind="marketing", text="Code ${x} Reply TD to opt out${y}")]),
    st.sampled_from([None, "Shop", "bad【"]), st.sampled_from(["prefix", "suffix"]),
    st.sampled_from([None, "", "Reply TD to opt out"]),
    st.sampled_from([(Encoding.GSM7, Encoding.UCS2), (Encoding.GSM7, Encoding.LATIN1),
                     (Encoding.UCS2,)]),
    st.lists(st.dictionaries(st.sampled_from(["x", "y", "name", "zz"]),
                             st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)),
             min_size=1, max_size=8))
def test_a_renderer_answers_as_render_and_count(template: Template, signature: str | None,
                                                placement: Placement, optout: str | None,
                                                encodings: tuple[Encoding, ...],
                                                rows: list[dict[str, str]]) -> None:
    """A campaign's Renderer (counts cached by the params' shape) gives render's text and
    errors and count's parts, row after row."""
    renderer = Renderer(template, signature=signature, placement=placement,
                        optout_suffix=optout, encodings=encodings)
    for params in rows:
        try:
            expected: object = render(template, params, signature=signature,
                                      placement=placement, optout_suffix=optout,
                                      encodings=encodings).text
        except TemplateError as exc:
            expected = str(exc)
        try:
            text, shape = renderer.render(params)
        except TemplateError as exc:
            assert str(exc) == expected
            continue
        assert text == expected
        try:
            parts: object = count(text, allowed=encodings).parts
        except ValueError as exc:
            parts = str(exc)
        try:
            assert renderer.parts(text, shape) == parts
        except ValueError as exc:
            assert str(exc) == parts
