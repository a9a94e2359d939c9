"""One unit per kind of number, shared by the site and ``resta tables`` (issue 16, item 9).

- Judged rates (harmful, refusal) are stored as fractions and shown in % with one decimal.
- Utility scores are lm-eval's own metrics. Those lm-eval reports as fractions (accuracy, exact match,
  pass@k) are shown in % like the rates; any other metric (BLEU, perplexity, a metric the catalogue does
  not know) is shown as lm-eval reports it, to three significant digits, and its header says so.
- Differences of rates are in percentage points (pp), signed, one decimal.

Every interval says what it is: rates carry 95% Wilson intervals, utility scores lm-eval's ±1.96
standard errors, differences a paired bootstrap interval with an exact McNemar p.
"""

from __future__ import annotations

from dataclasses import dataclass

from resta_bench.tasks import catalogue

MINUS = "−"  # U+2212: a minus sign as wide as a plus, so signed columns line up

WILSON = "95% Wilson interval"
STANDARD_ERROR = "value ± 1.96 × lm-eval's standard error (95%)"
NO_STANDARD_ERROR = "lm-eval reports a standard error of 0, so there is no interval"
PAIRED = "95% paired bootstrap interval of the difference, over the questions both systems answered"
SIGNIFICANT = 0.05  # a difference is marked when its exact McNemar p is below this


@dataclass(frozen=True)
class Unit:
    percent: bool  # a fraction shown ×100 with "%", or the stored number as it is

    @property
    def header(self) -> str:
        return "%" if self.percent else "lm-eval's scale"

    def scaled(self, value: float) -> float:
        """The stored number in this unit (a fraction ×100 for %), e.g. for a chart's axis."""
        return 100 * value if self.percent else value

    def number(self, value: float) -> str:
        return f"{100 * value:.1f}" if self.percent else f"{value:.3g}"

    def shown(self, value: float) -> str:
        return self.number(value) + ("%" if self.percent else "")


RATE = Unit(percent=True)


def metric_unit(metric: str, benchmark: str | None = None) -> Unit:
    """The unit of a utility metric, by the catalogue (``exact_match/strict-match`` → exact_match's %)."""
    return Unit(percent=catalogue.metric_info(metric, benchmark).unit == catalogue.PERCENT)


def utility_header(benchmark: str, metric: str) -> str:
    """A utility column's header, naming its unit: ``gsm8k exact_match (%)``, ``wmt16 bleu (lm-eval's
    scale)``."""
    return f"{benchmark} {metric} ({metric_unit(metric, benchmark).header})"


def points(difference: float, *, sign: bool = True) -> str:
    """A difference of two rates in percentage points, one decimal, with a true minus sign."""
    text = f"{100 * difference:+.1f}" if sign else f"{100 * difference:.1f}"
    return text.replace("-", MINUS)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def p_value(p: float) -> str:
    """An exact p-value to two significant digits: ``0.012``, ``3.1×10⁻⁵``, ``1``."""
    text = f"{p:.2g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"
