// RESTA Bench leaderboard: sorting and filtering the headline table, heat-map drill-down, and the
// response browser. Plain DOM, no libraries, no network. Data from the results store is only ever
// put on the page as text (textContent), never parsed as HTML.
"use strict";

(function () {
  // ---- headline table: click a header to sort, best first (aware of lower-is-better) ----
  function sortKey(cell, numeric) {
    const raw = cell ? cell.getAttribute("data-sort") : null;
    if (raw === null || raw === "") return null;
    return numeric ? Number(raw) : raw.toLowerCase();
  }

  // A header's column is its data-column: with grouped headers, a th's place in its row is not it.
  function sortBy(table, index, button) {
    const better = button.getAttribute("data-better"); // "lower" | "higher" | null (text)
    const numeric = better !== null;
    const th = button.closest("th");
    // First click: best first (ascending for lower-is-better and for text); a second click reverses.
    const ascendingFirst = better !== "higher";
    const wasFirst = th.getAttribute("data-order") === "first";
    const ascending = wasFirst ? !ascendingFirst : ascendingFirst;
    table.querySelectorAll("thead th").forEach((other) => {
      other.removeAttribute("aria-sort");
      other.removeAttribute("data-order");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    th.setAttribute("data-order", wasFirst ? "second" : "first");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const x = sortKey(a.cells[index], numeric);
      const y = sortKey(b.cells[index], numeric);
      if (x === null || y === null) return (x === null) - (y === null); // missing values last, always
      if (x === y) return 0;
      return (x < y) === ascending ? -1 : 1;
    });
    rows.forEach((row) => body.appendChild(row));
  }

  function setUpSorting(table) {
    table.querySelectorAll("thead th[data-column]").forEach((th) => {
      const button = th.querySelector("button");
      const index = Number(th.dataset.column);
      if (button) button.addEventListener("click", () => sortBy(table, index, button));
    });
  }

  // ---- column groups: each checkbox shows or hides its group's header and cells ----
  function setUpColumnGroups(fieldset, table) {
    fieldset.querySelectorAll("input[data-group]").forEach((input) => {
      const cells = Array.from(table.querySelectorAll(".g-" + input.dataset.group));
      const apply = () => cells.forEach((cell) => (cell.hidden = !input.checked));
      input.addEventListener("change", apply);
      apply(); // a browser restoring the form's state after "back" keeps the reader's choice
    });
  }

  // ---- filters: every select narrows the rows (and the charts, by judge) ----
  function setUpFilters(form, table) {
    const selects = Array.from(form.querySelectorAll("select[data-filter]"));
    const count = document.getElementById("row-count");
    function apply() {
      let shown = 0;
      Array.from(table.tBodies[0].rows).forEach((row) => {
        const keep = selects.every((s) => s.value === "" || row.getAttribute("data-" + s.dataset.filter) === s.value);
        row.hidden = !keep;
        if (keep) shown += 1;
      });
      if (count) count.textContent = shown + " rows";
      const judge = form.querySelector('select[data-filter="judge"]');
      document.querySelectorAll("figure[data-judge]").forEach((figure) => {
        figure.hidden = judge !== null && judge.value !== "" && figure.dataset.judge !== judge.value;
      });
    }
    selects.forEach((s) => s.addEventListener("change", apply));
    apply();
  }

  // ---- heat maps: a category's button shows or hides its sub-category rows ----
  function setUpHeatMaps() {
    document.querySelectorAll("button.drill").forEach((button) => {
      button.addEventListener("click", () => {
        const open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        const table = button.closest("table");
        table.querySelectorAll("tr.subcategory").forEach((row) => {
          if (row.dataset.group === button.dataset.group) row.hidden = !open;
        });
      });
    });
  }

  // ---- response browser ----
  const PAGE = 100;

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function fragmentFilters() {
    const wanted = {};
    location.hash.replace(/^#/, "").split("&").forEach((part) => {
      const at = part.indexOf("=");
      if (at > 0) wanted[decodeURIComponent(part.slice(0, at))] = decodeURIComponent(part.slice(at + 1));
    });
    return wanted;
  }

  function setUpResponses(source) {
    const data = JSON.parse(source.textContent);
    const items = data.items;
    const body = document.querySelector("#responses tbody");
    const more = document.getElementById("more");
    const count = document.getElementById("response-count");
    const reveal = document.getElementById("reveal");
    const selects = {};
    document.querySelectorAll("#response-filters select[data-field]").forEach((s) => (selects[s.dataset.field] = s));
    let revealed = false;
    let limit = PAGE;

    const values = {
      judge: data.judges,
      verdict: ["harmful", "safe", "invalid"],
      benchmark: [...new Set(items.map((i) => i.benchmark))],
      language: [...new Set(items.map((i) => i.language))],
      category: [...new Set(items.map((i) => i.category))].filter(Boolean),
      subcategory: [...new Set(items.map((i) => i.subcategory))].filter(Boolean),
    };
    const wanted = fragmentFilters();
    Object.entries(selects).forEach(([field, select]) => {
      values[field].forEach((value) => select.appendChild(new Option(value, value)));
      if (wanted[field] !== undefined && values[field].includes(wanted[field])) select.value = wanted[field];
    });

    function matches(item) {
      const judge = selects.judge.value;
      const verdict = selects.verdict.value;
      if (judge && !(judge in item.verdicts)) return false;
      if (verdict) {
        const verdicts = judge ? [item.verdicts[judge]] : Object.values(item.verdicts);
        if (!verdicts.includes(verdict)) return false;
      }
      return ["benchmark", "language", "category", "subcategory"].every(
        (field) => !selects[field].value || item[field] === selects[field].value
      );
    }

    function row(item) {
      const tr = document.createElement("tr");
      tr.appendChild(element("td", item.doc_id, "num"));
      tr.appendChild(element("td", item.task));
      tr.appendChild(element("td", item.language));
      tr.appendChild(element("td", [item.category, item.subcategory].filter(Boolean).join(" / ")));
      tr.appendChild(element("td", item.question, "text"));
      const answer = revealed ? element("td", item.response, "text answer") : element("td", "hidden", "hidden-answer");
      tr.appendChild(answer);
      const verdicts = element("td");
      Object.entries(item.verdicts).forEach(([judge, verdict]) => {
        const badge = element("span", judge + ": " + verdict, "verdict " + verdict);
        const raw = item.raw[judge];
        if (raw) badge.title = raw;
        verdicts.appendChild(badge);
      });
      if (item.refusal !== null && item.refusal !== undefined) {
        verdicts.appendChild(element("span", item.refusal ? "refusal" : "no refusal", "refusal"));
      }
      tr.appendChild(verdicts);
      return tr;
    }

    function render() {
      const shown = items.filter(matches);
      body.replaceChildren(...shown.slice(0, limit).map(row));
      count.textContent = shown.length + " of " + items.length + " questions";
      more.hidden = shown.length <= limit;
    }

    Object.values(selects).forEach((s) =>
      s.addEventListener("change", () => {
        limit = PAGE;
        render();
      })
    );
    more.addEventListener("click", () => {
      limit += PAGE;
      render();
    });
    reveal.addEventListener("click", () => {
      revealed = !revealed;
      reveal.setAttribute("aria-pressed", String(revealed));
      reveal.textContent = revealed ? "Hide answers" : "Show answers";
      render();
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("headline");
    if (table) {
      setUpSorting(table);
      const form = document.getElementById("filters");
      if (form) setUpFilters(form, table);
      const groups = document.getElementById("column-groups");
      if (groups) setUpColumnGroups(groups, table);
    }
    setUpHeatMaps();
    const source = document.getElementById("responses-data");
    if (source) setUpResponses(source);
    document.documentElement.setAttribute("data-ready", "true");
  });
})();
