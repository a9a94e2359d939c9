"""The formatting helpers every page relies on: units, missing values, and escaping."""

from __future__ import annotations

import json

from resta_bench.leaderboards.render import delta, fragment, rate, script_json
from resta_bench.leaderboards.units import p_value


def test_script_json_cannot_close_its_script_element_and_still_parses():
    text = json.dumps({"response": "</script><script>alert(1)</script> & <!--"})
    safe = script_json(text)
    assert "<" not in safe and ">" not in safe and "&" not in safe
    assert json.loads(safe) == json.loads(text)


def test_rates_show_in_percent_and_utility_in_its_own_units():
    judged = {"judge": "refusal", "metric": "harmful", "value": 0.125, "ci_low": 0.05, "ci_high": 0.25}
    assert rate({**judged, "language_valid": False}, "a.html") == (
        '<a href="a.html">12.5%</a> '
        '<span class="flag" title="this judge is not valid for this language">†</span> '
        '<span class="ci" title="95% Wilson interval">[5.0, 25.0]</span>'
    )
    perplexity = {
        "judge": "lm_eval",
        "metric": "word_perplexity",
        "value": 120,
        "ci_low": None,
        "ci_high": None,
    }
    assert rate(perplexity, "a.html") == '<a href="a.html">120</a>'
    accuracy = {"judge": "lm_eval", "metric": "acc", "value": 0.25, "ci_low": -0.01, "ci_high": 0.51}
    assert rate(accuracy, "a.html") == (
        '<a href="a.html">25.0%</a> '
        '<span class="ci" title="value ± 1.96 × lm-eval&#39;s standard error (95%)">[−1.0, 51.0]</span>'
    )
    zero = {**accuracy, "value": 0.0, "ci_low": 0.0, "ci_high": 0.0}  # lm-eval's stderr 0: no interval
    assert "[0.0, 0.0]" not in rate(zero, "a.html") and ">SE 0</span>" in rate(zero, "a.html")
    assert "–" in rate({"judge": "refusal", "value": None}, "a.html") and "%" not in rate(None, "x")


def test_a_stored_delta_shows_points_interval_exact_p_and_a_mark_when_significant():
    stored = {"difference": -0.1234, "low": -0.15, "high": -0.09, "p_mcnemar": 3.14e-5, "n_pairs": 1650}
    shown = delta(stored)
    assert '<span class="value">−12.3 pp</span>' in shown and "[−15.0, −9.0]" in shown
    assert "p = 3.1×10⁻⁵" in shown and 'class="sig"' in shown and "1,650 paired questions" in shown
    calm = delta({**stored, "difference": 0.01, "low": -0.02, "high": 0.04, "p_mcnemar": 0.5})
    assert (
        '<span class="value">+1.0 pp</span>' in calm and "[−2.0, 4.0]" in calm and 'class="sig"' not in calm
    )
    assert "–" in delta(None) and "–" in delta({**stored, "difference": None})
    assert [p_value(p) for p in (1.0, 0.5, 0.0123, 0.000999, 2e-12)] == [
        "1",
        "0.5",
        "0.012",
        "0.001",
        "2×10⁻¹²",
    ]


def test_links_are_escaped_and_fragments_quoted():
    assert 'href="x&#34;&gt;&lt;script&gt;"' in rate({"judge": "refusal", "value": 0.5}, 'x"><script>')
    assert fragment(category="Hate/Harass & <b>", language="") == "#category=Hate%2FHarass%20%26%20%3Cb%3E"
