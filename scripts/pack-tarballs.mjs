// `node scripts/pack-tarballs.mjs [dir]` (after `pnpm build`): pack every package into `dir` (default
// ./tarballs), as the README's install section uses them until the packages are published:
//   npm install /path/to/tarballs/*.tgz && npx s3kit --help
// Tarballs an earlier run left there (other versions of these packages) are removed first: `*.tgz` must
// name one version of each package, or npm installs two copies of one name.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { packAll } from "./consumer/pack.mjs";

const destination = resolve(process.argv[2] ?? "tarballs");
if (existsSync(destination)) {
  for (const file of readdirSync(destination)) {
    if (/^(toolkit-[a-z0-9-]+|s3kit)-\d+\.\d+\.\d+[\w.-]*\.tgz$/.test(file)) rmSync(join(destination, file));
  }
}
const packed = packAll(destination);
for (const [name, file] of Object.entries(packed)) process.stdout.write(`${name}\t${file}\n`);
process.stdout.write(`\nInstall them together in any folder: npm install ${destination}/*.tgz\n`);
