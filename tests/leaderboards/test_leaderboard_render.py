"""The formatting helpers every page relies on: units, missing values, and escaping."""

from __future__ import annotations

import json

from resta_bench.leaderboards.render import fragment, rate, script_json


def test_script_json_cannot_close_its_script_element_and_still_parses():
    text = json.dumps({"response": "</script><script>alert(1)</script> & <!--"})
    safe = script_json(text)
    assert "<" not in safe and ">" not in safe and "&" not in safe
    assert json.loads(safe) == json.loads(text)


def test_rates_show_in_percent_and_utility_in_its_own_units():
    judged = {"judge": "refusal", "value": 0.125, "ci_low": 0.05, "ci_high": 0.25, "language_valid": False}
    utility = {"judge": "lm_eval", "value": 120, "ci_low": None, "ci_high": None}
    assert rate(judged, "a.html") == (
        '<a href="a.html">12.5%</a> <span class="ci">[5.0–25.0]</span> '
        '<span class="flag" title="this judge is not valid for this language">†</span>'
    )
    assert rate(utility, "a.html") == '<a href="a.html">120</a> <span class="ci"></span>'
    assert "–" in rate({"judge": "refusal", "value": None}, "a.html") and "%" not in rate(None, "x")


def test_links_are_escaped_and_fragments_quoted():
    assert 'href="x&#34;&gt;&lt;script&gt;"' in rate({"judge": "refusal", "value": 0.5}, 'x"><script>')
    assert fragment(category="Hate/Harass & <b>", language="") == "#category=Hate%2FHarass%20%26%20%3Cb%3E"
