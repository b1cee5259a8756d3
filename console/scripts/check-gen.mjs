// Fails when src/api/schema.d.ts is not what `npm run gen` makes from ../openapi.yaml.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "roster-gen-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync("npx", ["openapi-typescript", "../openapi.yaml", "-o", fresh], { stdio: "ignore" });
  const committed = readFileSync("src/api/schema.d.ts", "utf8");
  if (readFileSync(fresh, "utf8") !== committed) {
    console.error("src/api/schema.d.ts is out of date with ../openapi.yaml: run `npm run gen`");
    process.exit(1);
  }
  console.log("src/api/schema.d.ts matches ../openapi.yaml");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
