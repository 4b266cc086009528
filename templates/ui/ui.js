// mlform ui: progressive enhancement only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compare");
  if (!form) return;
  const button = document.getElementById("compare-button");
  const update = () => {
    button.disabled = form.querySelectorAll("input[name=run]:checked").length < 2;
  };
  form.addEventListener("change", update);
  update();
  // the filter box narrows the table as you type, from the page's JSON twin
  const box = document.querySelector("form.filters input[name=q]");
  const body = form.querySelector("tbody");
  const twin = document.querySelector("link[rel=alternate][type='application/json']");
  if (!box || !body || !twin) return;
  let timer = null;
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const url = new URL(twin.href, location.href);
      url.searchParams.set("q", box.value);
      url.searchParams.set("page", "1");
      const answer = await fetch(url, {headers: {accept: "application/json"}});
      if (!answer.ok) return;
      const data = await answer.json();
      body.replaceChildren(...data.runs.map(row));
      update();
    }, 250);
  });
  const text = (value) => value === null || value === undefined ? "-" :
    typeof value === "number" && !Number.isInteger(value) ? value.toPrecision(4) : String(value);
  function row(run) {
    const tr = document.createElement("tr");
    const check = document.createElement("input");
    check.type = "checkbox"; check.name = "run"; check.value = run.id;
    const cells = [check, run.id, run.spec, run.env, run.status,
      new Date(run.started * 1000).toISOString().slice(0, 19).replace("T", " "), text(run.duration),
      Object.entries(run.params || {}).map(([k, v]) => k + "=" + v).join("\n"),
      Object.entries(run.metrics || {}).map(([k, v]) => k + "=" + text(v)).join("\n"),
      run.gates_passed === null || run.gates_passed === undefined ? "-" : run.gates_passed ? "passed" : "failed",
      Object.entries(run.data || {}).map(([k, v]) => k + ": " + String(v).slice(0, 12)).join("\n")];
    for (const value of cells) {
      const td = document.createElement("td");
      if (value instanceof Node) td.append(value); else td.textContent = value;  // text, never markup
      tr.append(td);
    }
    return tr;
  }
});
