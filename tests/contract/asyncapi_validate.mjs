// Parse an AsyncAPI document with the official parser and print its diagnostics as JSON lines.
// Usage: node asyncapi_validate.mjs FILE   (exit 0: no errors; 1: errors; 2: could not run)
// NODE_PATH must reach @asyncapi/parser (scripts/_setup.sh installs it into .tools/node_modules).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.RPCGEN_TOOLS ?? process.cwd(), "noop.js"));
const { Parser } = require("@asyncapi/parser");

const file = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"), { source: file });
let errors = 0;
for (const d of diagnostics) {
  // Spectral severities: 0 error, 1 warning, 2 info, 3 hint.
  if (d.severity === 0) errors += 1;
  console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path }));
}
if (document === undefined && errors === 0) errors = 1;
console.log(JSON.stringify({ errors, parsed: document !== undefined }));
process.exit(errors ? 1 : 0);
