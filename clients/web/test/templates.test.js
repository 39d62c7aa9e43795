// Reply templates render as protocol/templates.py does: strictly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TemplateError, render, variablesOf } from "../build/src/index.js";

test("variables are replaced, doubled braces are braces", () => {
  const text = "Bonjour {patient_first_name}, rendez-vous le {date} à {time} {{sans frais}}";
  const values = { patient_first_name: "Ana", date: "3 décembre", time: "9 h" };
  assert.equal(render(text, values), "Bonjour Ana, rendez-vous le 3 décembre à 9 h {sans frais}");
  assert.deepEqual([...variablesOf(text)].sort(), ["date", "patient_first_name", "time"]);
});

test("a missing value, an unknown variable or a bad brace is refused", () => {
  assert.throws(() => render("Bonjour {patient_name}", {}), /no value for: patient_name/);
  assert.throws(() => render("{salary}", { salary: "1" }), /unknown variables: salary/);
  for (const bad of ["{date", "date}", "{date:>10}", "{date!r}", "{0}"]) {
    assert.throws(() => variablesOf(bad), TemplateError, bad);
  }
});

test("the variables are those the contract publishes", async () => {
  const { readFileSync } = await import("node:fs");
  const schema = JSON.parse(readFileSync(new URL("../../../docs/protocol.schema.json", import.meta.url), "utf8"));
  const { VARIABLES } = await import("../build/src/index.js");
  assert.deepEqual([...VARIABLES].sort(), schema.constants.template_variables);
});
