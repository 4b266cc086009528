// Validate Gateway API HTTPRoutes with @kubernetes-models/gateway-api, whose validators are generated from the
// upstream CRDs' OpenAPI schemas; print one finding (or null) per document, as JSON.
// Usage: node httproute_check.mjs <path to the package> < documents.json (a JSON array of HTTPRoutes)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const module = join(process.argv[2], "gateway.networking.k8s.io", "v1", "HTTPRoute.js");
const { HTTPRoute } = await import(pathToFileURL(module).href);
const findings = JSON.parse(readFileSync(0, "utf8")).map((doc) => {
  if (doc.apiVersion !== HTTPRoute.apiVersion || doc.kind !== HTTPRoute.kind) {
    return `not a ${HTTPRoute.apiVersion} HTTPRoute: ${doc.apiVersion} ${doc.kind}`;
  }
  try {
    new HTTPRoute(doc).validate();
    return null;
  } catch (error) {
    return error.message;
  }
});
process.stdout.write(JSON.stringify(findings));
