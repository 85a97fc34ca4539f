"""`{% axis_sections %}` writes what the programme document's loop over its axes wrote through the
template language, for every branch of that loop, reader and language."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import translation

from chancery.planning import selectors, services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Axis

# The loop as `planning/programme_detail.html` had it.
THROUGH_TEMPLATES = Template("""{% load i18n programme_items %}{% for block in axes %}
<section class="axis" id="axis-{{ block.axis.pk }}" aria-labelledby="axis-{{ block.axis.pk }}-h">
<h2 class="h4" id="axis-{{ block.axis.pk }}-h">{{ block.axis.name }}</h2>
{% if block.axis.narrative %}<div class="mb-2">{{ block.axis.narrative|linebreaks }}</div>{% endif %}
{% for ob in block.objectives %}
<div class="objective mb-3">
<h3 class="h5">{% if ob.objective %}{% translate "Objective" %}: {{ ob.objective.title }}{% else %}{% translate "Actions and indicators without an objective" %}{% endif %}</h3>
{% if ob.objective.description %}<p class="small">{{ ob.objective.description|linebreaksbr }}</p>{% endif %}
{% if ob.actions %}<ul class="list-group mb-2" aria-label="{% translate 'Actions' %}">{% action_items ob.actions %}</ul>{% endif %}
{% if ob.indicators %}{% indicator_table ob.indicators %}{% endif %}
</div>
{% empty %}<p class="small text-body-secondary">{% translate "No action in this axis yet." %}</p>
{% endfor %}
{% if permissions.edit %}<p class="no-print"><a class="btn btn-sm btn-link" href="{% url 'planning:action_create' programme.pk %}?axis={{ block.axis.pk }}">{% translate "Add an action to this axis" %}</a> <a class="btn btn-sm btn-link" href="{% url 'planning:axis_edit' programme.pk block.axis.pk %}">{% translate "Narrative and objectives" %}<span class="visually-hidden"> — {{ block.axis.name }}</span></a></p>{% endif %}
<details{% if block.comments %} open{% endif %}><summary>{% blocktranslate count n=block.comments|comment_count with axis=block.axis.name %}Comments on {{ axis }} ({{ n }}){% plural %}Comments on {{ axis }} ({{ n }}){% endblocktranslate %}</summary>
{% comment_threads block.comments "axis" block.axis.pk permissions.comment %}
</details>
</section>
{% endfor %}""")  # noqa: E501 - the template's lines as they were

IN_PYTHON = Template("{% load programme_items %}{% axis_sections axes %}")


@pytest.fixture
def programme(ministry: Any) -> Any:
    """Every branch of the loop: a narrative (two paragraphs, markup to escape), an objective with
    a description and one without, actions without an objective, an axis without any action,
    indicators, and comments with a reply on one axis, one comment on another."""
    users = ministry.users
    agent = users["counsellor.dakar"]
    programme = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=agent)
    axes = list(Axis.objects.unrestricted("test data").filter(programme=programme).order_by("position"))
    narrative = "Relations <b>bilatérales</b> & visites.\n\nSecond « paragraphe »."
    services.update_axis(user=agent, axis=axes[0], narrative=narrative)
    services.create_objective(user=agent, axis=axes[0], title="Objectif « décrit »",
                              description="Première ligne\nseconde <ligne>")
    services.create_action(user=agent, programme=programme, axis=axes[1], title="Action sans objectif",
                           lead=agent, start_date=date(2026, 5, 1))
    services.add_axis(user=agent, programme=programme, axis_type="communication")
    desk = users["desk.dab1"]
    first = services.comment(user=desk, programme=programme, body="Sur l'axe <culturel>", target_type="axis",
                             target_id=axes[2].pk)
    services.comment(user=agent, programme=programme, body="Réponse", parent=first)
    services.comment(user=desk, programme=programme, body="Un seul", target_type="axis", target_id=axes[1].pk)
    return programme


@pytest.mark.parametrize("language", ["fr", "en", "ar", "es"])
@pytest.mark.parametrize("reader", ["counsellor.dakar", "desk.dab1", "plan.sg4"])
def test_the_sections_are_what_the_template_wrote(ministry: Any, programme: Any, reader: str, language: str) -> None:
    user = ministry.users[reader]
    with translation.override(language):
        document = selectors.programme_document(user, selectors.programme_detail(user, programme.pk))
        blocks = document["axes"]
        assert any(b.axis.narrative for b in blocks) and any(not b.actions for b in blocks)
        assert any(ob.objective is None for b in blocks for ob in b.objectives)
        assert sum(len(b.comments) for b in blocks) == 2
        context = {"axes": blocks, "programme": document["programme"], "permissions": document["permissions"],
                   "csrf_token": "t" * 64}
        expected = THROUGH_TEMPLATES.render(Context(context))
        assert IN_PYTHON.render(Context(context)) == expected
    assert ("?axis=" in expected) == bool(document["permissions"]["edit"])  # the tools: an editor's only
