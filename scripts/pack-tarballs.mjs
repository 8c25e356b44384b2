// `node scripts/pack-tarballs.mjs [dir]` (after `pnpm build`): pack every package into `dir` (default
// ./tarballs), as the README's install section uses them until the packages are published:
//   npm install /path/to/tarballs/*.tgz && npx s3kit --help
import { resolve } from "node:path";
import { packAll } from "./consumer/pack.mjs";

const destination = resolve(process.argv[2] ?? "tarballs");
const packed = packAll(destination);
for (const [name, file] of Object.entries(packed)) process.stdout.write(`${name}\t${file}\n`);
process.stdout.write(`\nInstall them together in any folder: npm install ${destination}/*.tgz\n`);
