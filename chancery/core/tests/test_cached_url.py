"""`{% url %}` (the builtin `cached_url`) renders what Django's tag renders, in every template, and
answers from memory only for what cannot change its answer."""

from __future__ import annotations

import pytest
from django.template import Context, Engine, Template, TemplateSyntaxError, engines
from django.test import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from chancery.core.templatetags import cached_url


def _render(text: str, **context: object) -> str:
    return engines["django"].from_string(text).render(context)


def _django(text: str, **context: object) -> str:
    """The same text through Django's own tag (an engine without the builtin)."""
    return Template(text, engine=Engine()).render(Context(context))


def test_every_template_uses_it() -> None:
    template = engines["django"].engine.from_string("{% url 'core:home' %}")  # type: ignore[attr-defined]
    assert type(template.nodelist[0]) is cached_url.CachedURLNode


@pytest.mark.parametrize(
    "text",
    [
        "{% url 'core:home' %}",
        "{% url 'notifications:open' 7 %}",
        "{% url 'notifications:open' pk %}",
        "{% url 'correspondence:detail' pk=pk %}",
        "{% url 'notifications:open' 7 as link %}[{{ link }}]",
        "{% url 'no:such' as link %}[{{ link }}]",
        "{% url name pk %}",
    ],
)
def test_it_renders_what_django_renders(text: str) -> None:
    context = {"pk": 42, "name": "notifications:open"}
    assert _render(text, **context) == _django(text, **context)
    assert _render(text, **context) == _render(text, **context)  # answered from memory the second time


@pytest.mark.parametrize(
    "text",
    ["{% url 'core:home' %}", "{% url 'notifications:open' 7 %}", "{% url 'notifications:open' pk %}",
     "{% url 'correspondence:detail' pk=pk %}", "{% url name pk as link %}{{ link }}"],
)
def test_the_second_rendering_is_answered_from_memory(text: str) -> None:
    """A quoted view name or argument resolves to a `SafeString`: remembered like a `str`."""
    cached_url._reversed.cache_clear()
    template = engines["django"].from_string(text)
    first = template.render({"pk": 42, "name": "notifications:open"})
    assert cached_url._reversed.cache_info().misses == 1
    assert template.render({"pk": 42, "name": "notifications:open"}) == first
    assert cached_url._reversed.cache_info().hits == 1


def test_arguments_decide_the_answer() -> None:
    assert _render("{% url 'notifications:open' pk %}", pk=1) == reverse("notifications:open", args=[1])
    assert _render("{% url 'notifications:open' pk %}", pk=2) == reverse("notifications:open", args=[2])
    assert _render("{% url 'notifications:open' pk %}", pk="3") == reverse("notifications:open", args=["3"])


def test_what_cannot_be_remembered_is_reversed_each_time() -> None:
    class Key:
        def __init__(self, text: str) -> None:
            self.text = text

        def __str__(self) -> str:
            return self.text

    before = cached_url._reversed.cache_info().currsize
    assert _render("{% url 'notifications:open' key %}", key=Key("5")) == reverse("notifications:open", args=["5"])
    assert _render("{% url 'notifications:open' key %}", key=Key("6")) == reverse("notifications:open", args=["6"])
    assert cached_url._reversed.cache_info().currsize == before


def test_a_wrong_name_still_fails_and_a_prefix_or_urlconf_change_is_seen() -> None:
    with pytest.raises(NoReverseMatch):
        _render("{% url 'no:such' %}")
    with pytest.raises(TemplateSyntaxError):
        _render("{% url %}")
    plain = _render("{% url 'core:home' %}")
    with override_settings(FORCE_SCRIPT_NAME="/chancery/"):
        from django.urls import set_script_prefix

        set_script_prefix("/chancery/")
        try:
            assert _render("{% url 'core:home' %}") == "/chancery" + plain
        finally:
            set_script_prefix("/")
    with translation.override("ar"):
        assert _render("{% url 'core:home' %}") == reverse("core:home")


def test_escaping_follows_the_context() -> None:
    tag = "{% url 'organisation:person_detail' name %}"
    text = f"{tag}|{{% autoescape off %}}{tag}{{% endautoescape %}}"
    assert _render(text, name="o'neil") == _django(text, name="o'neil")
    assert _render(text, name="o'neil").split("|") == [reverse("organisation:person_detail", args=["o'neil"]).replace(
        "'", "&#x27;"), reverse("organisation:person_detail", args=["o'neil"])]
